/**
 * Regressions found in review of the core: a store that ignores Range and streams the whole
 * object (chunked, no length) must never have its bytes served from the wrong offset; an
 * ObjectInfo with a wrong size must not plant short blocks for the true object; closing a
 * reader while disk-tier reads are in flight must not crash the process.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, KiB } from '../lib/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3 } from './support/s3.js'

test('a store that ignores Range and streams the whole object chunked: an error, never wrong bytes', async () => {
  const body = patternBytes(100_000, 'chunked')
  const server = createServer((req, res) => {
    const headers = { etag: '"abc"', 'last-modified': new Date(0).toUTCString(), 'content-type': 'application/octet-stream' }
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': body.length })
      res.end()
      return
    }
    res.writeHead(200, headers) // no Content-Length, no Content-Range: chunked
    res.write(body.subarray(0, 50_000))
    res.end(body.subarray(50_000))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const reader = new BlockReader({
    s3: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    blockSize: 16 * KiB,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  })
  try {
    const h = await reader.open('s3://bucket/key')
    try {
      const got = await h.read(50_000, 8)
      assert.ok(Buffer.from(got).equals(body.subarray(50_000, 50_008)), 'if bytes come back they must be the right ones')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_SLUICE_SOURCE', (err as Error).message)
      assert.match((err as Error).message, /ignored the byte range/)
    }
  } finally {
    await reader.close()
    server.close()
  }
})

test('an ObjectInfo with a wrong size cannot plant short blocks for the true object', async () => {
  const s3 = await startTestS3(['data'])
  const dir = await mkdtemp(join(tmpdir(), 'sluice-review-'))
  try {
    const bytes = patternBytes(100 * KiB, 'size')
    await s3.put('data', 'obj', bytes)
    const reader = new BlockReader({ s3: s3.server.s3, cacheDir: join(dir, 'c'), blockSize: 32 * KiB })
    const info = await reader.stat('s3://data/obj')
    const wrong = await reader.open({ ...info, size: 33_000 })
    await wrong.read(0, 33_000).catch(() => undefined)
    const right = await reader.open(info)
    assert.ok(Buffer.from(await right.read(32 * KiB, 1000)).equals(bytes.subarray(32 * KiB, 32 * KiB + 1000)))
    assert.ok(Buffer.from(await right.read(30_000, 5000)).equals(bytes.subarray(30_000, 35_000)))
    assert.ok(Buffer.from(await right.read(0, bytes.length)).equals(bytes))
    await reader.close()
  } finally {
    await s3.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('close() while disk-tier reads are in flight finishes them or rejects them, without crashing', async () => {
  const s3 = await startTestS3(['data'])
  const dir = await mkdtemp(join(tmpdir(), 'sluice-review-'))
  try {
    const bytes = patternBytes(512 * KiB, 'close')
    await s3.put('data', 'obj', bytes)
    const options = { s3: s3.server.s3, cacheDir: join(dir, 'c'), blockSize: 64 * KiB, memory: { maxBytes: 0 } }
    const fill = new BlockReader(options)
    await (await fill.open('s3://data/obj')).read(0, bytes.length)
    await fill.close()
    for (let round = 0; round < 5; round++) {
      const reader = new BlockReader(options)
      const h = await reader.open('s3://data/obj')
      const target = Buffer.alloc(bytes.length)
      const reads = [h.read(0, 200 * KiB), h.readInto(target, 0, 0, bytes.length)]
      const closed = reader.close()
      const again = reader.close()
      assert.is(again, closed, 'a second close() returns the same promise')
      const settled = await Promise.allSettled(reads)
      await closed
      for (const s of settled) {
        if (s.status === 'rejected') assert.is((s.reason as { code?: string }).code, 'ERR_SLUICE_CLOSED')
      }
      if (settled[1]!.status === 'fulfilled') assert.ok(target.equals(bytes))
    }
  } finally {
    await s3.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
