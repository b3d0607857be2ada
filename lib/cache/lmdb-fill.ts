/**
 * One disk-tier fill inside a write transaction: the layout's rules for keeping usage exact
 * across processes and crashes (admission against the oldest block, eviction of just the
 * room needed, the block, its index entries and the counters), shared by the two places a
 * fill can run: the disk writer thread, and the reader's own thread when the tier writes
 * inline (lmdb-block-store.ts says when and why).
 *
 * It also keeps the object records bounded by the blocks: an object's record (`objects`, the
 * `urls` index and `latest`) is written with its first stored block and removed with its last
 * (forgetObjectIfEmpty, also used by deletions), so metadata never outlives the data.
 */
import { crc32c } from '@node-rs/crc32'
import { keyHashes, type FrequencySketch } from './frequency-sketch.js'
import { OBJECT_ID_BYTES } from './block-key.js'
import { HEADER_BYTES, chargedBytes, indexedUrl, seqKey, sizeOf, urlKey, urlPrefix, writeHeader, type CacheDbs, type CachedObjectRecord } from './lmdb-layout.js'

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
 * Records the object of a stored block, once: its record, its URL's index entry, and the
 * URL's `latest` version for reading through an outage (the version most recently cached).
 */
function recordObject(dbs: CacheDbs, id: Buffer, object: CachedObjectRecord): void {
  if (dbs.objects.doesExist(id)) return
  const record: CachedObjectRecord = { url: object.url, version: object.version, size: object.size, blockSize: object.blockSize }
  if (object.mtimeMs !== undefined) record.mtimeMs = object.mtimeMs
  dbs.objects.putSync(Buffer.from(id), record)
  dbs.urls.putSync(urlKey(object.url, id), Buffer.alloc(0))
  // An older version cached late (a long-lived handle, another block size) does not take
  // `latest` back from a newer one, where the store gave both their times.
  const indexed = indexedUrl(object.url)
  const current = dbs.latest.get(indexed)
  if (current !== undefined && current.version !== record.version && isOlder(record, current)) return
  dbs.latest.putSync(indexed, latestOf(record))
}

function isOlder(a: { mtimeMs?: number }, b: { mtimeMs?: number }): boolean {
  return a.mtimeMs !== undefined && b.mtimeMs !== undefined && a.mtimeMs < b.mtimeMs
}

/** Ids of every object of one URL with records here (versions and block sizes; a short range). */
export function idsOfUrl(dbs: CacheDbs, url: string): Buffer[] {
  const prefix = urlPrefix(url)
  const out: Buffer[] = []
  for (const key of dbs.urls.getKeys({ start: prefix })) {
    if (!key.subarray(0, prefix.length).equals(prefix)) break
    // Only a key of exactly this length is this URL's: another URL may extend this one with
    // a zero byte of its own.
    if (key.length === prefix.length + OBJECT_ID_BYTES) out.push(Buffer.from(key.subarray(prefix.length)))
  }
  return out
}

function latestOf(record: CachedObjectRecord): { url: string; version: string; size: number; mtimeMs?: number } {
  return { url: record.url, version: record.version, size: record.size, ...(record.mtimeMs === undefined ? {} : { mtimeMs: record.mtimeMs }) }
}

/**
 * Drops the records of object `id` once none of its blocks is left, inside the caller's
 * write transaction. If it was the URL's `latest`, that stays while the same version is
 * cached under another block size, else falls back to the newest other cached version.
 */
export function forgetObjectIfEmpty(dbs: CacheDbs, id: Buffer): void {
  for (const key of dbs.sizes.getKeys({ start: id, limit: 1 })) if (key.subarray(0, OBJECT_ID_BYTES).equals(id)) return
  const record = dbs.objects.get(id)
  if (record === undefined) return
  dbs.objects.removeSync(id)
  dbs.urls.removeSync(urlKey(record.url, id))
  const indexed = indexedUrl(record.url)
  if (dbs.latest.get(indexed)?.version !== record.version) return
  let newest: CachedObjectRecord | undefined
  for (const other of idsOfUrl(dbs, record.url)) {
    const o = dbs.objects.get(other)
    if (o === undefined) continue
    if (o.version === record.version) return
    if (newest === undefined || isOlder(newest, o)) newest = o
  }
  if (newest === undefined) dbs.latest.removeSync(indexed)
  else dbs.latest.putSync(indexed, latestOf(newest))
}

function oldest(dbs: CacheDbs): Buffer | undefined {
  for (const { value } of dbs.order.getRange({ limit: 1 })) return value
  return undefined
}
