/**
 * What the fetch scheduler promises, seen at the source through a real BlockReader: demand
 * reads go ahead of queued prefetch (and a queued prefetch someone waits for is promoted),
 * `prefetch.maxConcurrentRequests` bounds the requests the source has at once, and an
 * AbortSignal that fires while a fetch is under way rejects the read with ERR_SLUICE_ABORTED
 * and leaves the reader working. The FaultySource holds every request until the test lets it
 * go, so the order and the overlap of requests are decided by the scheduler, not by timing.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { AbortError, BlockReader, KiB } from '../lib/index.js'
import { FaultySource, MemorySource } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { waitUntil } from './support/wait.js'

const BS = 4 * KiB
const OBJECT = patternBytes(40 * BS, 'scheduling')
const URL_ = 'mem://s/object'

/**
 * A reader whose every fetch is one block (no coalescing) and whose reads start no read-ahead
 * of their own, over a source that stalls every read until released.
 */
function stalledReader(maxConcurrentRequests: number) {
  const mem = new MemorySource()
  mem.put(URL_, OBJECT)
  mem.put('mem://s/other', patternBytes(BS, 'other'))
  const faults = new FaultySource(mem, { faults: [{ kind: 'stall' }] })
  const reader = new BlockReader({
    blockSize: BS,
    sources: [faults],
    prefetch: { maxConcurrentRequests, coalesceBytes: BS, maxReadAheadBytes: 0 },
  })
  /** The blocks the source was asked for, in order. */
  const asked = () => faults.requests.filter((q) => q.operation === 'read').map((q) => q.start! / BS)
  return { reader, faults, asked }
}

const same = (got: Uint8Array, block: number, length: number) => Buffer.from(got).equals(OBJECT.subarray(block * BS, block * BS + length))

test('demand reads go ahead of queued prefetch; a queued prefetch a reader waits for is promoted', async () => {
  const { reader, faults, asked } = stalledReader(2)
  try {
    const h = await reader.open(URL_)
    // Eight blocks of prefetch: with two slots, one is kept for demand, so one prefetch runs.
    assert.is(h.prefetch(0, 8 * BS), 8 * BS)
    await faults.whenStalled(1)
    const d20 = h.read(20 * BS, 10)
    await faults.whenStalled(2)
    assert.equal(asked(), [0, 20], 'the demand read took the free slot while seven prefetches queued')
    const d25 = h.read(25 * BS, 10) // queued: both slots busy
    const d5 = h.read(5 * BS, 10) // block 5 is a queued prefetch: waiting on it promotes it
    assert.is(faults.release(1), 1) // prefetch of block 0 lands; one slot frees
    await faults.whenStalled(2)
    assert.equal(asked(), [0, 20, 5], 'the promoted block 5 went before blocks 1-4 queued ahead of it')
    faults.release(1) // the demand read of block 20 lands
    await faults.whenStalled(2)
    assert.equal(asked(), [0, 20, 5, 25], 'the demand read of block 25 went before the queued prefetch')
    faults.setFaults([])
    faults.release()
    assert.ok(same(await d20, 20, 10) && same(await d25, 25, 10) && same(await d5, 5, 10), 'every read got its bytes')
    await waitUntil(() => asked().length === 10, 'the queued prefetch ran')
    assert.equal(asked().slice(4).sort((a, b) => a - b), [1, 2, 3, 4, 6, 7], 'the rest of the prefetch ran after')
  } finally {
    faults.setFaults([])
    faults.release()
    await reader.close()
  }
})

test('prefetch.maxConcurrentRequests bounds the requests at the source, demand and prefetch together', async () => {
  const LIMIT = 3
  const { reader, faults, asked } = stalledReader(LIMIT)
  try {
    const h = await reader.open(URL_)
    // Six blocks of prefetch (which may hold all slots but one), then ten demand reads of
    // separate blocks: sixteen requests, each held at the source until released one by one.
    h.prefetch(30 * BS, 6 * BS)
    const demand = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18].map((b) => h.read(b * BS, 100).then((bytes) => same(bytes, b, 100)))
    await faults.whenStalled(LIMIT)
    assert.equal(asked(), [30, 31, 0], 'two prefetches and one demand read fill the three slots')
    const total = 16
    for (let released = 0; released < total; released++) {
      await faults.whenStalled(1)
      faults.release(1)
    }
    assert.ok((await Promise.all(demand)).every(Boolean), 'every read got its bytes')
    assert.is(asked().length, total)
    assert.is(faults.maxReadsInFlight, LIMIT, 'the bound was reached and never passed')
  } finally {
    faults.setFaults([])
    faults.release()
    await reader.close()
  }
})

test('an abort while the fetch is under way rejects with ERR_SLUICE_ABORTED; the fetch finishes for the next reader', async () => {
  const { reader, faults, asked } = stalledReader(4)
  try {
    const h = await reader.open(URL_)
    const abort = new AbortController()
    const read = h.read(3 * BS + 7, 100, { signal: abort.signal })
    await faults.whenStalled(1)
    abort.abort()
    const err = await read.then(() => undefined, (e: unknown) => e as AbortError)
    assert.instance(err, AbortError)
    assert.is(err!.code, 'ERR_SLUICE_ABORTED')
    assert.match(err!.message, URL_)
    assert.is(faults.stalled, 1, 'the fetch itself goes on (another reader may want the block)')

    // chunks() with a signal, aborted while its block is in flight.
    const chunkAbort = new AbortController()
    const it = h.chunks({ start: 10 * BS, end: 11 * BS, signal: chunkAbort.signal })[Symbol.asyncIterator]()
    const next = it.next()
    await faults.whenStalled(2)
    chunkAbort.abort()
    const chunkErr = await next.then(() => undefined, (e: unknown) => e as AbortError)
    assert.is(chunkErr?.code, 'ERR_SLUICE_ABORTED')

    faults.setFaults([])
    faults.release()
    assert.ok(Buffer.from(await h.read(3 * BS + 7, 100)).equals(OBJECT.subarray(3 * BS + 7, 3 * BS + 107)), 'the same handle reads on')
    assert.equal(asked().filter((b) => b === 3), [3], 'the aborted read\'s block was fetched once, not again')
    const other = await reader.open('mem://s/other')
    assert.is((await other.read(0, BS)).length, BS, 'other objects read on')
  } finally {
    faults.setFaults([])
    faults.release()
    await reader.close()
  }
})

test.run()
