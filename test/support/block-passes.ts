/**
 * A reader's passes over a disk tier, as the block reader drives it: each block of a pass
 * is looked up; a miss is fetched (counted) and filled, and the fill is awaited before the
 * next block, as behind a network slow enough to let it land. Shared by the admission tests
 * and the second process they start (admission-child.ts).
 */
import { blockKey, objectId } from '../../lib/cache/block-key.js'
import type { LmdbBlockStore } from '../../lib/index.js'

/** Data of each test block: charged exactly 64 KiB (header, key and data in 16 pages). */
export const BLOCK_DATA = 64 * 1024 - 100
const data = Buffer.alloc(BLOCK_DATA, 0x5a)

/** `count` block keys of a dataset named `name`. */
export function dataset(name: string, count: number): Uint8Array[] {
  const id = objectId(`s3://admission/${name}`, '"v1"', 64 * 1024, 1 << 30)
  return Array.from({ length: count }, (_, i) => blockKey(id, i))
}

/** One pass over `keys`; resolves to how many blocks it fetched. */
export async function pass(store: LmdbBlockStore, keys: Uint8Array[]): Promise<number> {
  let fetched = 0
  for (const key of keys) {
    if ((await store.getMany([key]))[0] !== undefined) continue
    fetched++
    await store.put(key, data)
  }
  return fetched
}

/** Several passes; resolves to what each fetched. */
export async function passes(store: LmdbBlockStore, epochs: Uint8Array[][]): Promise<number[]> {
  const fetched: number[] = []
  for (const keys of epochs) fetched.push(await pass(store, keys))
  return fetched
}
