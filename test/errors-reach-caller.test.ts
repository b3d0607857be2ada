/**
 * The README's error table says ERR_SLUICE_TIMEOUT and ERR_SLUICE_SHORT_READ are retried and
 * surface after the last attempt. These tests make every attempt fail that way against real
 * peers (s3rver behind the fault proxy, a plain HTTP server) and check that the caller of
 * `handle.read` gets the error with its class, its code and the URL, after exactly the
 * configured attempts.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, ShortReadError, TimeoutError } from '../lib/index.js'
import { startFaultProxy, type FaultProxy } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { startRangeServer, type RangeServer } from './support/range-server.js'
import { startTestS3, type TestS3 } from './support/s3.js'

const BS = 64 * KiB
const OBJECT = patternBytes(200 * KiB, 'errors')
const ATTEMPTS = 3

const test = suite('errors that reach the caller')
let s3: TestS3
let proxy: FaultProxy
let http: RangeServer

test.before(async () => {
  s3 = await startTestS3(['data'])
  await s3.put('data', 'obj', OBJECT)
  proxy = await startFaultProxy({ target: s3.server.endpoint })
  http = await startRangeServer(OBJECT)
})
test.after(async () => {
  await http.close()
  await proxy.close()
  await s3.close()
})

function s3Reader(requestTimeoutMs = 30_000): BlockReader {
  return new BlockReader({
    blockSize: BS,
    s3: { ...s3.server.s3, endpoint: proxy.endpoint },
    prefetch: { maxReadAheadBytes: 0 },
    retry: { maxAttempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 2, requestTimeoutMs },
  })
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  assert.unreachable('the read should have failed')
  throw new Error('unreachable')
}

test('ERR_SLUICE_TIMEOUT: a store that never answers fails the read after every attempt timed out', async () => {
  proxy.setFaults([{ kind: 'stall', rate: 1 }])
  const r = s3Reader(200)
  try {
    const h = await r.open('s3://data/obj') // HEAD is not stalled
    const err = await failure(h.read(1000, 100))
    assert.instance(err, TimeoutError)
    assert.is(err.code, 'ERR_SLUICE_TIMEOUT')
    assert.match(err.message, 'request for s3://data/obj timed out after 200 ms')
    assert.is(r.stats().source.retries, ATTEMPTS - 1, 'retried before giving up')
    assert.is(r.stats().source.errors, 1)
  } finally {
    proxy.setFaults([])
    await r.close()
  }
})

test('ERR_SLUICE_SHORT_READ: bodies that keep ending early fail the read after the last attempt', async () => {
  http.plan = () => ({ kind: 'end-early', bytes: 1000 })
  const r = new BlockReader({ blockSize: BS, prefetch: { maxReadAheadBytes: 0 }, retry: { maxAttempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 2 } })
  try {
    const h = await r.open(http.url)
    const err = await failure(h.read(0, BS))
    assert.instance(err, ShortReadError)
    assert.is(err.code, 'ERR_SLUICE_SHORT_READ')
    assert.match(err.message, http.url)
    // Each attempt resumed where the last stopped: 1000 bytes each, 3000 of 64 KiB in all.
    assert.equal(http.ranges, [0, 1000, 2000].map((from) => `bytes=${from}-${BS - 1}`))
    assert.is(r.stats().source.retries, ATTEMPTS - 1)
  } finally {
    http.plan = () => ({ kind: 'whole' })
    await r.close()
  }
})

test('ERR_SLUICE_SHORT_READ over S3: bodies cut short by the store fail the read as short reads', async () => {
  proxy.setFaults([{ kind: 'short', rate: 1 }])
  const r = s3Reader()
  try {
    const h = await r.open('s3://data/obj')
    const err = await failure(h.read(0, BS))
    assert.instance(err, ShortReadError)
    assert.is(err.code, 'ERR_SLUICE_SHORT_READ')
    assert.match(err.message, 's3://data/obj')
  } finally {
    proxy.setFaults([])
    await r.close()
  }
})

test.run()
