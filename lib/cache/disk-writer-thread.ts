/**
 * The disk writer thread (a disk tier with `writerThread`, which `sluice mount` uses): fills
 * run here, so the reader's event loop never computes a block's CRC32C, never copies it into
 * LMDB's pages and never waits for a commit. That loop then spends 2.1 instead of 4.6 ms per
 * 4 MiB fill; the price is more CPU in all, which is why the thread is optional.
 *
 * Blocks arrive in buffers transferred from the reader's thread with the bytes already placed
 * after room for the header, and go back the same way to be reused: no copy here beyond LMDB's
 * own. The admission sketch is shared memory the reader's thread counts into; this thread only
 * reads it. The refused keys (refused-keys.ts) are shared memory too, written only by fills.
 * The transaction itself is lmdb-fill.ts; fills that arrive together share one, and lmdb-js
 * syncs it while the next is prepared.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { FrequencySketch } from './frequency-sketch.js'
import { fill, type AdmissionMemory, type FillRequest } from './lmdb-fill.js'
import { closeEnv, openCacheDbs, transact, type CacheDbs } from './lmdb-layout.js'
import { RefusedKeys } from './refused-keys.js'

export interface WriterSetup {
  path: string
  mapBytes: number
  sketchTable: Uint8Array
  /** The store's refused keys; without them (a writer on its own) the thread keeps its own. */
  refusedKeys?: SharedArrayBuffer
}

export type { FillRequest } from './lmdb-fill.js'

export interface FillReply {
  id: number
  buffer: ArrayBuffer
  /** The tier holds the block (stored now, or already there). */
  stored: boolean
  evictions: number
  /** The commit failed (full disk, I/O error): its message. Nothing of the fill was kept. */
  error?: string
}

if (parentPort) {
  const port = parentPort
  const setup = workerData as WriterSetup
  const memory: AdmissionMemory = { sketch: FrequencySketch.overTable(setup.sketchTable), refused: setup.refusedKeys ? RefusedKeys.over(setup.refusedKeys) : new RefusedKeys(0) }
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
    await transact(open.env, () => {
      outcomes = fills.map((req) => fill(open, memory, req))
    })
    return fills.map((req, i) => ({ id: req.id, buffer: req.buffer, ...outcomes[i]! }))
  }
  // A close that cannot settle the writes (closeEnv) still ends the thread: the reader's
  // thread closes the same environment after it and reports that failure.
  const closeAndExit = () => void (dbs ? closeEnv(dbs.env) : Promise.resolve()).catch(() => {}).finally(() => port.close())
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
