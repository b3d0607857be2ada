/**
 * What a disk tier's counters say and what its blocks add up to, read from its directory with
 * the tier closed: the check that usage and main's bytes, kept in the fill and deletion
 * transactions, still match the blocks after evictions of any kind.
 */
import { open } from 'lmdb'
import { chargedBytes } from '../../lib/cache/lmdb-block-store.js'

export async function accounts(path: string) {
  const env = open({ path, maxDbs: 12, compression: false, readOnly: true })
  try {
    const meta = env.openDB<number, string>({ name: 'meta' })
    const order = env.openDB<Buffer, Buffer>({ name: 'order', encoding: 'binary', keyEncoding: 'binary' })
    const sizes = env.openDB<Buffer, Buffer>({ name: 'sizes', encoding: 'binary', keyEncoding: 'binary' })
    const mainBelow = meta.get('mainBelow') ?? 0
    let used = 0
    let main = 0
    for (const { key, value } of order.getRange({})) {
      const charge = chargedBytes(sizes.getBinary(value)!.readUInt32LE(0))
      used += charge
      if (Number(key.readBigUInt64BE(0)) < mainBelow) main += charge
    }
    return { usage: meta.get('usage') ?? 0, mainUsage: meta.get('mainUsage') ?? 0, used, main }
  } finally {
    await env.close()
  }
}
