/**
 * The disk writer thread: every fill of the disk tier runs here, in one write transaction
 * per block, so the reader's event loop never computes a block's CRC32C, never copies it into
 * LMDB's pages and never waits for a commit. (On the reader's thread those cost a cold epoch a
 * third of its time: LMDB copies each block into freshly allocated pages, and the memory tier's
 * growing blocks kept taking the memory LMDB had just freed, so every fill faulted in new
 * pages. This thread allocates nothing long-lived, so LMDB's pages are reused.)
 *
 * Blocks arrive in buffers transferred from the reader's thread with the bytes already placed
 * after room for the header, and go back the same way to be reused: no copy here beyond LMDB's
 * own. The admission sketch is shared memory the reader's thread counts into; this thread only
 * reads it.
 *
 * The transaction is the one the layout needs to keep usage exact across processes and
 * crashes: admission against the oldest block, eviction of just the room needed, the block,
 * its index entries and the counters, committed together or not at all. Fills that arrive
 * together share one transaction, and lmdb-js syncs it while the next is prepared.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { crc32c } from '@node-rs/crc32'
import { FrequencySketch, keyHashes } from './frequency-sketch.js'
import { HEADER_BYTES, chargedBytes, openCacheDbs, seqKey, sizeOf, writeHeader, type CacheDbs } from './lmdb-layout.js'

export interface WriterSetup {
  path: string
  mapBytes: number
  sketchTable: Uint8Array
}

/** A block to store: `buffer` holds `length` bytes from offset HEADER_BYTES. */
export interface FillRequest {
  type: 'fill'
  id: number
  key: Uint8Array
  buffer: ArrayBuffer
  length: number
  maxBytes: number
}

export interface FillReply {
  id: number
  buffer: ArrayBuffer
  /** The tier holds the block (stored now, or already there). */
  stored: boolean
  evictions: number
  /** The commit failed (full disk, I/O error): its message. Nothing of the fill was kept. */
  error?: string
}

/** One fill, inside the batch's write transaction. */
function fill(dbs: CacheDbs, sketch: FrequencySketch, req: FillRequest): { stored: boolean; evictions: number } {
  const key = Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength)
  if (dbs.sizes.doesExist(key)) return { stored: true, evictions: 0 }
  const value = Buffer.from(req.buffer, 0, HEADER_BYTES + req.length)
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
  return { stored: true, evictions }
}

function oldest(dbs: CacheDbs): Buffer | undefined {
  for (const { value } of dbs.order.getRange({ limit: 1 })) return value
  return undefined
}

if (parentPort) {
  const port = parentPort
  const setup = workerData as WriterSetup
  const sketch = FrequencySketch.overTable(setup.sketchTable)
  let dbs: CacheDbs | undefined
  let openError: string | undefined
  try {
    dbs = openCacheDbs(setup.path, setup.mapBytes)
  } catch (err) {
    openError = `opening ${setup.path} failed: ${(err as Error)?.message ?? String(err)}`
  }
  // Fills that arrive while a commit is under way are committed together next, and lmdb-js
  // syncs a commit to disk while the next one is prepared (its overlapping sync), so the
  // thread keeps up with a fast cold read: one sync per block, waited for in turn, did not.
  let batch: FillRequest[] = []
  let committing = false
  let closing = false
  const commitNext = async () => {
    committing = true
    while (batch.length > 0) {
      const fills = batch
      batch = []
      let replies: FillReply[]
      try {
        replies = await commitTogether(fills)
      } catch {
        // A failed batch (say, a disk with room for some of its blocks but not all) is retried
        // one fill per transaction, so each fill's outcome is its own, as without batching.
        replies = []
        for (const req of fills) {
          try {
            replies.push(...(await commitTogether([req])))
          } catch (err) {
            replies.push({ id: req.id, buffer: req.buffer, stored: false, evictions: 0, error: (err as Error)?.message ?? String(err) })
          }
        }
      }
      for (const reply of replies) port.postMessage(reply, [reply.buffer])
    }
    committing = false
    if (closing) closeAndExit()
  }
  const commitTogether = async (fills: FillRequest[]): Promise<FillReply[]> => {
    if (!dbs) throw new Error(openError)
    const open = dbs
    let outcomes: { stored: boolean; evictions: number }[] = []
    try {
      await open.env.transaction(() => {
        outcomes = fills.map((req) => fill(open, sketch, req))
      })
    } catch (err) {
      // lmdb-js attaches a second rejected promise with the commit's cause; observe it, or
      // it surfaces as an unhandled rejection and ends the thread.
      const commitError = (err as { commitError?: Promise<unknown> })?.commitError
      throw commitError ? await commitError.catch((e: unknown) => e) : err
    }
    return fills.map((req, i) => ({ id: req.id, buffer: req.buffer, ...outcomes[i]! }))
  }
  const closeAndExit = () => void (dbs?.env.close() ?? Promise.resolve()).finally(() => port.close())
  port.on('message', (msg: FillRequest | { type: 'close' }) => {
    if (msg.type === 'close') {
      closing = true
      if (!committing) closeAndExit()
      return
    }
    batch.push(msg)
    if (!committing) void commitNext()
  })
}
