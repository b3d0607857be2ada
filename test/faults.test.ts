/**
 * Faults between the reader and a real S3 server, injected by the fault proxy on loopback:
 * 500s, 503 SlowDown, 429, connection resets mid-body, bodies cut short, stalls before the
 * first byte and mid-body. Every read must still return exactly the right bytes, with the
 * retries visible in stats; a changed ETag must fail the read, not mix versions.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MiB } from '../lib/index.js'
import { startFaultProxy, type Fault, type FaultProxy } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3, type TestS3 } from './support/s3.js'

let s3: TestS3
let proxy: FaultProxy
const OBJECT = patternBytes(2 * MiB + 777, 'faults')
const test = suite('faults')

test.before(async () => {
  s3 = await startTestS3(['data'])
  await s3.put('data', 'obj', OBJECT)
  proxy = await startFaultProxy({ target: s3.server.endpoint })
})
test.after(async () => {
  await proxy.close()
  await s3.close()
})

function reader(threads = 0, blockSize = 128 * KiB, coalesceBytes = 512 * KiB): BlockReader {
  return new BlockReader({
    s3: { ...s3.server.s3, endpoint: proxy.endpoint },
    blockSize,
    prefetch: { threads, coalesceBytes },
    retry: { maxAttempts: 6, baseDelayMs: 1, maxDelayMs: 5, requestTimeoutMs: 400 },
  })
}

async function readAll(r: BlockReader): Promise<Buffer> {
  const h = await r.open('s3://data/obj')
  const parts: Buffer[] = []
  for (let pos = 0; pos < h.size; pos += 100_000) parts.push(Buffer.from(await h.read(pos, 100_000)))
  return Buffer.concat(parts)
}

const injectedTotal = () => Object.values(proxy.injected).reduce((a, b) => a + b, 0)

const single: [string, Fault[]][] = [
  ['HTTP 500', [{ kind: 'status500', nth: [1, 2, 4] }]],
  ['503 SlowDown', [{ kind: 'slowdown503', nth: [1, 3] }]],
  ['429', [{ kind: 'throttle429', nth: [2] }]],
  ['connection reset mid-body', [{ kind: 'reset', nth: [1, 2, 3] }]],
  ['body shorter than Content-Length', [{ kind: 'short', nth: [1, 3] }]],
  ['stall before the first byte', [{ kind: 'stall', nth: [2] }]],
  ['stall mid-body', [{ kind: 'stallBody', nth: [1] }]],
]

for (const [name, faults] of single) {
  test(`${name}: correct bytes, retries counted`, async () => {
    proxy.setFaults(faults)
    const before = injectedTotal()
    const r = reader()
    const got = await readAll(r)
    assert.ok(got.equals(OBJECT), 'bytes match the object')
    assert.ok(injectedTotal() - before > 0, 'faults were injected')
    assert.ok(r.stats().source.retries >= 1, `retries counted: ${JSON.stringify(r.stats().source)}`)
    await r.close()
  })
}

test('every fault mixed at 10% of requests, through worker threads', async () => {
  proxy.setFaults(
    (['status500', 'slowdown503', 'throttle429', 'reset', 'short', 'stall', 'stallBody'] as const).map((kind) => ({
      kind,
      rate: 0.1 / 7,
      methods: ['GET', 'HEAD'],
    })),
  )
  for (const threads of [0, 1]) {
    const before = injectedTotal()
    // Small blocks, not coalesced: about 130 requests a pass, so a 10% rate surely fires.
    const r = reader(threads, 16 * KiB, 16 * KiB)
    assert.ok((await readAll(r)).equals(OBJECT), `threads=${threads}`)
    const source = r.stats().source
    assert.ok(injectedTotal() - before > 0, `threads=${threads}: faults were injected in ${source.requests} requests`)
    assert.ok(source.retries >= 1, `threads=${threads}: retries counted: ${JSON.stringify(source)}`)
    await r.close()
  }
})

test('an ETag that changes between requests fails the read with ERR_SLUICE_OBJECT_CHANGED', async () => {
  proxy.setFaults([{ kind: 'etag', nth: [1] }])
  const r = reader()
  const h = await r.open('s3://data/obj')
  try {
    await h.read(0, 1000)
    assert.unreachable('served bytes under a different ETag')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_OBJECT_CHANGED', (err as Error).message)
  }
  await r.close()
})

test('a store that keeps failing gives ERR_SLUICE_SOURCE after the attempts, naming the URL', async () => {
  proxy.setFaults([{ kind: 'status500', rate: 1, methods: ['GET'] }])
  const r = reader()
  const h = await r.open('s3://data/obj')
  try {
    await h.read(0, 1000)
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_SOURCE')
    assert.match((err as Error).message, 's3://data/obj')
    assert.match((err as Error).message, '6 attempts')
    assert.is((err as Error).message.split('reading ').length, 2, `the URL's prefix once, not once per wrap: ${(err as Error).message}`)
  }
  proxy.setFaults([])
  await r.close()
})

test.run()
