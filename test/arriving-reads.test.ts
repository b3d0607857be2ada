/**
 * Reads of a block that is still arriving, against s3rver behind the fault proxy: the proxy
 * sends half of a block's body and then stalls it, so the only way a read of the front of
 * that block can finish before the request times out and is retried is to be served from the
 * bytes that have arrived. Both a small `read()` and `chunks()` must be, with exactly the
 * object's bytes, and the rest of the block must come right from the retry.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MiB } from '../lib/index.js'
import { startFaultProxy, type FaultProxy } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3, type TestS3 } from './support/s3.js'

let s3: TestS3
let proxy: FaultProxy
const OBJECT = patternBytes(1.5 * MiB, 'arriving')
const test = suite('reads of arriving blocks')

test.before(async () => {
  s3 = await startTestS3(['data'])
  await s3.put('data', 'obj', OBJECT)
  proxy = await startFaultProxy({ target: s3.server.endpoint })
})
test.after(async () => {
  await proxy.close()
  await s3.close()
})

function reader(): BlockReader {
  return new BlockReader({
    s3: { ...s3.server.s3, endpoint: proxy.endpoint },
    blockSize: 1 * MiB,
    // No read-ahead: the only GETs are the ones the reads below need.
    prefetch: { maxReadAheadBytes: 0 },
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, requestTimeoutMs: 1500 },
  })
}

test('a small read of a cold block is served from the front of the body, before the block completes', async () => {
  proxy.setFaults([{ kind: 'stallBody', nth: [1] }])
  const r = reader()
  const h = await r.open('s3://data/obj')
  const gets = r.stats().source.gets
  const head = await h.read(1000, 5000)
  assert.ok(Buffer.from(head).equals(OBJECT.subarray(1000, 6000)), 'the bytes of the range')
  assert.is(r.stats().source.gets - gets, 1, 'answered from the first, stalled response (no retry yet)')
  assert.is(r.stats().source.retries, 0)
  const rest = await h.read(6000, MiB - 6000)
  assert.ok(Buffer.from(rest).equals(OBJECT.subarray(6000, MiB)), 'the rest of the block, from the retry')
  assert.is(r.stats().source.retries, 1)
  await r.close()
})

test('chunks() yields what has arrived of a cold block, then the rest, byte for byte', async () => {
  proxy.setFaults([{ kind: 'stallBody', nth: [1] }])
  const r = reader()
  const h = await r.open('s3://data/obj')
  const gets = r.stats().source.gets
  const parts: Buffer[] = []
  let first: { length: number; gets: number } | undefined
  for await (const chunk of h.chunks()) {
    first ??= { length: chunk.length, gets: r.stats().source.gets - gets }
    parts.push(Buffer.from(chunk))
  }
  assert.ok(first!.length >= 256 * KiB && first!.length < MiB, `first chunk ${first!.length} bytes: what arrived, not the block`)
  assert.is(first!.gets, 1, 'the first chunk came from the stalled response')
  assert.ok(Buffer.concat(parts).equals(OBJECT), 'all chunks together are the object')
  await r.close()
})

test('an already-aborted signal rejects read() and chunks() with AbortError and leaves no unhandled rejection', async () => {
  proxy.setFaults([])
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    const r = reader()
    const h = await r.open('s3://data/obj')
    const signal = AbortSignal.abort()
    const read = await h.read(100, 10, { signal }).then(() => 'resolved', (e: { code?: string }) => e.code)
    assert.is(read, 'ERR_SLUICE_ABORTED', 'read() rejects with AbortError')
    let chunked = 'resolved'
    try {
      for await (const _ of h.chunks({ start: MiB, signal })) break
    } catch (e) {
      chunked = (e as { code?: string }).code ?? String(e)
    }
    assert.is(chunked, 'ERR_SLUICE_ABORTED', 'chunks() rejects with AbortError')
    await new Promise((resolve) => setTimeout(resolve, 100))
    await r.close()
    assert.equal(unhandled, [], 'no unhandled rejection')
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test.run()
