/**
 * The remote-store proxy in front of a real s3rver: signed requests pass through unchanged
 * (the server verifies them), bodies arrive byte for byte, and the proxy's counters add up
 * to exactly what crossed it (requests by kind, body bytes). Checked by counting, never by
 * timing; the model's pacing is tested on a fake clock in bench-link-model.test.ts.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Readable } from 'node:stream'
import { BlockReader, makeS3Client, MiB } from '../lib/index.js'
import { startRemoteStoreProxy, type RemoteStoreProxy } from '../bench/support/remote-store-proxy.js'
import { patternBytes } from './support/data.js'
import { startTestS3, type TestS3 } from './support/s3.js'

const test = suite('bench-remote-store-proxy')
const OBJECT = patternBytes(3 * MiB + 12_345, 'remote-store')
let s3: TestS3
let proxy: RemoteStoreProxy
let client: S3Client

test.before(async () => {
  s3 = await startTestS3(['data'])
  await s3.put('data', 'dir/obj', OBJECT)
  // A fast model keeps the test quick; the counters do not depend on the rates.
  proxy = await startRemoteStoreProxy({ target: s3.server.endpoint, model: { firstByteLatencyMs: 1, connectionBytesPerSecond: 1e9, aggregateBytesPerSecond: 4e9 } })
  client = makeS3Client({ ...s3.server.s3, endpoint: proxy.endpoint })
})
test.after(async () => {
  client.destroy()
  await proxy.close()
  await s3.close()
})

async function body(b: unknown): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of b as Readable) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

test('whole and ranged GETs arrive byte for byte through the model, and are counted exactly', async () => {
  const before = proxy.counts()
  const whole = await body((await client.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/obj' }))).Body)
  assert.ok(whole.equals(Buffer.from(OBJECT)))
  const ranged = await body((await client.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/obj', Range: 'bytes=1000-1048575' }))).Body)
  assert.ok(ranged.equals(Buffer.from(OBJECT.subarray(1000, 1048576))))
  const after = proxy.counts()
  assert.is(after.gets - before.gets, 2)
  assert.is(after.requests - before.requests, 2)
  assert.is(after.bodyBytes - before.bodyBytes, OBJECT.length + (1048576 - 1000))
})

test('HEADs and listings pass (signatures intact) and are counted by kind', async () => {
  const before = proxy.counts()
  const head = await client.send(new HeadObjectCommand({ Bucket: 'data', Key: 'dir/obj' }))
  assert.is(Number(head.ContentLength), OBJECT.length)
  const list = await client.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'dir/' }))
  assert.equal(list.Contents?.map((c) => c.Key), ['dir/obj'])
  const after = proxy.counts()
  assert.is(after.heads - before.heads, 1)
  assert.is(after.lists - before.lists, 1)
  assert.is(after.gets - before.gets, 0)
})

test('a BlockReader through the model reads the object intact; store bytes equal the proxy body bytes', async () => {
  const before = proxy.counts()
  const reader = new BlockReader({ s3: { ...s3.server.s3, endpoint: proxy.endpoint }, blockSize: 1 * MiB, memory: { maxBytes: 64 * MiB } })
  try {
    const h = await reader.open('s3://data/dir/obj')
    const got = await h.read(0, h.size)
    assert.ok(Buffer.from(got).equals(Buffer.from(OBJECT)))
    await h.close()
    const after = proxy.counts()
    const stats = reader.stats()
    assert.is(after.bodyBytes - before.bodyBytes, stats.source.bytes)
    assert.is(after.gets - before.gets, stats.source.gets)
  } finally {
    await reader.close()
  }
})

test('requests in flight are integrated: requestMs grows with every request', async () => {
  const before = proxy.counts()
  await body((await client.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/obj', Range: 'bytes=0-99' }))).Body)
  const after = proxy.counts()
  assert.ok(after.requestMs > before.requestMs)
})

test.run()
