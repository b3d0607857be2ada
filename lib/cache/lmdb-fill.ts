/**
 * What a block occupies in the disk tier, written and removed inside a write transaction: a
 * fill (admission against the oldest block, eviction of just the room needed, the block, its
 * index entries and the counters) and a deletion, under the layout's rules for keeping usage
 * exact across processes and crashes. Fills run in two places: the disk writer thread, and
 * the reader's own thread when the tier writes inline (lmdb-block-store.ts says when and
 * why); deletions run on the reader's thread. Both keep the object catalogue bounded by the
 * blocks (lmdb-object-catalog.ts).
 */
import { crc32c } from '@node-rs/crc32'
import { keyHashes, type FrequencySketch } from './frequency-sketch.js'
import { OBJECT_ID_BYTES } from './block-key.js'
import { HEADER_BYTES, chargedBytes, seqKey, sizeOf, writeHeader, type CacheDbs, type CachedObjectRecord } from './lmdb-layout.js'
import { forgetObjectIfEmpty, recordObject } from './lmdb-object-catalog.js'

/** A block to store: `buffer` holds its header room at `offset` (default 0), then `length` bytes. */
export interface BlockToStore {
  key: Uint8Array
  buffer: ArrayBuffer
  offset?: number
  length: number
  maxBytes: number
  /** The object the block belongs to: recorded with its first block. */
  object?: CachedObjectRecord
}

/** The same, as a message to the disk writer thread. */
export interface FillRequest extends BlockToStore {
  type: 'fill'
  id: number
}

export interface FillOutcome {
  stored: boolean
  evictions: number
}

/**
 * One fill, inside the caller's write transaction, as a child transaction of it: lmdb-js
 * commits what a transaction callback wrote before it threw, so a fill that failed half way
 * (map full, a key LMDB refuses) would leave a block without its usage or its records. The
 * child is aborted instead, and the error goes to the caller. Inside a write transaction,
 * childTransaction runs its callback synchronously.
 */
export function fill(dbs: CacheDbs, sketch: FrequencySketch, req: BlockToStore): FillOutcome {
  let outcome: FillOutcome | undefined
  void dbs.env.childTransaction(() => {
    outcome = fillInTransaction(dbs, sketch, req)
  })
  if (outcome === undefined) throw new Error('lmdb-js ran a fill outside a write transaction')
  return outcome
}

function fillInTransaction(dbs: CacheDbs, sketch: FrequencySketch, req: BlockToStore): FillOutcome {
  const key = Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength)
  if (dbs.sizes.doesExist(key)) return { stored: true, evictions: 0 }
  const value = Buffer.from(req.buffer, req.offset ?? 0, HEADER_BYTES + req.length)
  const charge = chargedBytes(req.length)
  let usage = dbs.meta.get('usage') ?? 0
  let entries = dbs.meta.get('entries') ?? 0
  let evictions = 0
  if (usage + charge > req.maxBytes) {
    // A full tier: the fill must beat the oldest block, and a winner evicts only the room
    // it needs, so the next fills meet a full tier too and are contested as well.
    const [h1, h2] = keyHashes(key)
    const victim = oldest(dbs)
    if (victim !== undefined) {
      const [v1, v2] = keyHashes(victim)
      if (sketch.estimate(h1, h2) <= sketch.estimate(v1, v2)) return { stored: false, evictions: 0 }
    }
    // Collect victims first: deleting under a live cursor is not something to rely on.
    const victims: [Buffer, Buffer, number][] = []
    let freed = 0
    for (const { key: seq, value: victimKey } of dbs.order.getRange({})) {
      if (usage - freed + charge <= req.maxBytes) break
      const size = sizeOf(dbs.sizes, victimKey)
      const bytes = size === undefined ? 0 : chargedBytes(size.length)
      victims.push([seq, victimKey, bytes])
      freed += bytes
    }
    for (const [seq, victimKey, bytes] of victims) {
      dbs.order.removeSync(seq)
      if (bytes === 0) continue
      dbs.blocks.removeSync(victimKey)
      dbs.sizes.removeSync(victimKey)
      usage -= bytes
      entries--
      evictions++
    }
    for (const [, victimKey] of victims) forgetObjectIfEmpty(dbs, victimKey.subarray(0, OBJECT_ID_BYTES))
    if (usage + charge > req.maxBytes) return { stored: false, evictions }
  }
  const seq = dbs.meta.get('seq') ?? 0
  writeHeader(value, req.length, crc32c(value.subarray(HEADER_BYTES)), seq)
  dbs.blocks.putSync(key, value)
  const size = Buffer.allocUnsafe(12)
  size.writeUInt32LE(req.length, 0)
  size.writeDoubleLE(seq, 4)
  dbs.sizes.putSync(key, size)
  dbs.order.putSync(seqKey(seq), Buffer.from(key))
  dbs.meta.putSync('seq', seq + 1)
  dbs.meta.putSync('usage', usage + charge)
  dbs.meta.putSync('entries', entries + 1)
  if (req.object !== undefined) recordObject(dbs, key.subarray(0, OBJECT_ID_BYTES), req.object)
  return { stored: true, evictions }
}

/**
 * Removes one block, its index entries and its charge, inside the caller's write transaction,
 * and the records of its object if it was the last block of it. False if it was not here.
 */
export function removeBlock(dbs: CacheDbs, key: Buffer): boolean {
  const size = sizeOf(dbs.sizes, key)
  if (size === undefined) return false
  dbs.blocks.removeSync(key)
  dbs.sizes.removeSync(key)
  dbs.order.removeSync(seqKey(size.seq))
  dbs.meta.putSync('usage', (dbs.meta.get('usage') ?? 0) - chargedBytes(size.length))
  dbs.meta.putSync('entries', (dbs.meta.get('entries') ?? 0) - 1)
  forgetObjectIfEmpty(dbs, key.subarray(0, OBJECT_ID_BYTES))
  return true
}

function oldest(dbs: CacheDbs): Buffer | undefined {
  for (const { value } of dbs.order.getRange({ limit: 1 })) return value
  return undefined
}
