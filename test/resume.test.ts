/**
 * Resume from the first missing byte (lib/source/read-body.ts, retrying-source.ts): a body
 * cut short mid-way is retried for what is missing only, never refetched whole. Single
 * buffer reads (HTTP) resume at the exact byte; block reads resume at the first block the
 * cut response did not complete, whether the body ended early or its connection was cut (a
 * store sending fewer bytes than its Content-Length). Each test asserts the range the retry
 * asked for.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, S3Source } from '../lib/index.js'
import { FaultySource, MemorySource, startFaultProxy } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { startRangeServer, type RangeServer } from './support/range-server.js'
import { startTestS3 } from './support/s3.js'

const BS = 64 * KiB
const OBJECT = patternBytes(300 * KiB, 'resume')
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 }
/** One GET per read: no read-ahead of its own. */
const NO_READ_AHEAD = { maxReadAheadBytes: 0 }


const test = suite('resume from the first missing byte')
let server: RangeServer

test.before(async () => {
  server = await startRangeServer(OBJECT)
})
test.after(() => server.close())
test.before.each(() => {
  server.ranges.length = 0
})

/**
 * Reads the first two blocks over HTTP with the first response cut after 10,000 bytes as
 * `cut` says, and checks the bytes, that the retry asked for the rest only, and that no byte
 * was fetched twice.
 */
async function resumesAfterCut(cut: 'end-early' | 'close-early'): Promise<void> {
  server.plan = (n) => (n === 1 ? { kind: cut, bytes: 10_000 } : { kind: 'whole' })
  const r = new BlockReader({ blockSize: BS, prefetch: NO_READ_AHEAD, retry: FAST_RETRY })
  try {
    const h = await r.open(server.url)
    assert.equal(Buffer.from(await h.read(0, 2 * BS)), OBJECT.subarray(0, 2 * BS))
    assert.equal(server.ranges, [`bytes=0-${2 * BS - 1}`, `bytes=10000-${2 * BS - 1}`], 'the retry asked for the rest only')
    assert.is(r.stats().source.retries, 1)
    assert.is(r.stats().source.bytes, 2 * BS, 'no byte fetched twice')
  } finally {
    await r.close()
  }
}

test('HTTP: a body that ends early is resumed at the first missing byte', () => resumesAfterCut('end-early'))

test('block reads: a body cut mid-block resumes at the first block it did not complete', async () => {
  const mem = new MemorySource()
  mem.put('mem://r/object', OBJECT)
  const faults = new FaultySource(mem, { faults: [{ kind: 'truncate', bytes: BS + 5000, nth: [1] }] })
  const r = new BlockReader({ blockSize: BS, sources: [faults], prefetch: NO_READ_AHEAD, retry: FAST_RETRY })
  try {
    const h = await r.open('mem://r/object')
    assert.equal(Buffer.from(await h.read(0, 3 * BS)), OBJECT.subarray(0, 3 * BS))
    const reads = faults.requests.filter((q) => q.operation === 'read').map((q) => [q.start, q.end])
    assert.equal(reads, [[0, 3 * BS], [BS, 3 * BS]], 'block 0 arrived whole and is kept; the retry starts at block 1')
    assert.is(r.stats().source.retries, 1)
  } finally {
    await r.close()
  }
})

test('HTTP: a connection closed mid-body is resumed at the first missing byte', () => resumesAfterCut('close-early'))

test('S3: a body the store cuts short (fault proxy) resumes at the first block it did not complete', async () => {
  const s3 = await startTestS3(['data'])
  const proxy = await startFaultProxy({ target: s3.server.endpoint, faults: [{ kind: 'short', nth: [1] }] })
  // The proxy sends half of the first GET's body (two of four blocks) and closes the connection.
  const faults = new FaultySource(new S3Source({ ...s3.server.s3, endpoint: proxy.endpoint }))
  const r = new BlockReader({ blockSize: BS, sources: [faults], prefetch: { ...NO_READ_AHEAD, coalesceBytes: 4 * BS }, retry: FAST_RETRY })
  try {
    await s3.put('data', 'object', OBJECT)
    const h = await r.open('s3://data/object')
    assert.equal(Buffer.from(await h.read(0, 4 * BS)), OBJECT.subarray(0, 4 * BS))
    const reads = faults.requests.filter((q) => q.operation === 'read').map((q) => [q.start, q.end])
    assert.equal(reads, [[0, 4 * BS], [2 * BS, 4 * BS]], 'the retry starts at the first block the cut body did not complete')
  } finally {
    await r.close()
    await proxy.close()
    await s3.close()
  }
})

test.run()
