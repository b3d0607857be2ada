/**
 * Whole epochs under store faults: TFRecord shards (synthetic ones plus a real
 * TensorFlow-written file from test/fixtures/tensorflow-tfrecord) in s3rver, read
 * through the fault proxy, each fault kind alone and then all of them mixed at 10% of
 * requests. Every epoch must deliver exactly the records of the source files, in order,
 * with the faults visible as retries in the reader's stats and no hang (every stall ends at
 * `requestTimeoutMs`). A changed ETag must stop the epoch with ERR_SLUICE_OBJECT_CHANGED
 * after delivering only correct records. The same mixed faults under a FUSE mount must give
 * separate processes byte-identical files.
 *
 * Each epoch uses a fresh reader with a cold memory-only cache, so every byte crosses the
 * proxy. Figures are printed on one line for docs/reliability.md.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MiB } from '../lib/index.js'
import { startFaultProxy, type Fault, type FaultProxy } from '../lib/testing/index.js'
import { tfrecords } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { mount } from '../fuse/index.js'
import { cleanupMountpoint, fuseSkipReason, fuseTest, run, tempMountpoint, test } from './support/fuse-env.js'
import { makeRecords, tensorflowFixture } from './support/tfrecord-fixtures.js'
import { startTestS3, type TestS3 } from './support/s3.js'

const KINDS = ['status500', 'slowdown503', 'throttle429', 'reset', 'short', 'stall', 'stallBody'] as const
const fuseSkip = await fuseSkipReason('reliability-faults')
const fuseIt = fuseTest(fuseSkip)

let s3: TestS3
let proxy: FaultProxy
/** key -> the shard's bytes as stored. */
const shards = new Map<string, Uint8Array>()
/** key -> the shard's records, read from the bytes with no store in between. */
const expected = new Map<string, Buffer[]>()
const figures = { epochs: 0, records: 0, faults: 0, retries: 0, fuseFilesVerified: 0 }

test.before(async () => {
  s3 = await startTestS3(['data'])
  for (let k = 0; k < 3; k++) shards.set(`train/synthetic-${k}.tfrecord`, encodeTFRecords(makeRecords(60 + k * 17, [0, 9, 1000, 40_000, 3, 70_000], 100 + k)))
  shards.set('train/tfx_mnist_1000.tfrecord', new Uint8Array(readFileSync(tensorflowFixture('tfx_mnist_1000.tfrecord'))))
  for (const [key, bytes] of shards) await s3.put('data', key, bytes)
  // The expected records come from the bytes via a memory-only reader on the real store, no proxy.
  const direct = new BlockReader({ s3: s3.server.s3, memory: { maxBytes: 64 * MiB } })
  for (const key of shards.keys()) {
    const records: Buffer[] = []
    for await (const r of tfrecords(direct, `s3://data/${key}`)) records.push(Buffer.from(r))
    expected.set(key, records)
  }
  await direct.close()
  proxy = await startFaultProxy({ target: s3.server.endpoint, seed: 7 })
})

test.after(async () => {
  console.log(`[reliability-faults] figures ${JSON.stringify(figures)}`)
  await proxy?.close()
  await s3?.close()
})

function faultyReader(): BlockReader {
  return new BlockReader({
    s3: { ...s3.server.s3, endpoint: proxy.endpoint },
    memory: { maxBytes: 64 * MiB },
    blockSize: 32 * KiB,
    prefetch: { coalesceBytes: 128 * KiB },
    retry: { maxAttempts: 8, baseDelayMs: 1, maxDelayMs: 10, requestTimeoutMs: 400 },
  })
}

const injectedTotal = () => Object.values(proxy.injected).reduce((a, b) => a + b, 0)

/** One epoch over every shard (listed through the proxy too), compared record by record. */
async function epoch(faults: Fault[], label: string): Promise<void> {
  proxy.setFaults(faults)
  const before = injectedTotal()
  const reader = faultyReader()
  try {
    for (const key of shards.keys()) {
      const want = expected.get(key)!
      let i = 0
      for await (const r of tfrecords(reader, `s3://data/${key}`)) {
        assert.ok(i < want.length, `${label}: ${key} has no record ${i}`)
        assert.ok(Buffer.from(r).equals(want[i]!), `${label}: ${key} record ${i} differs`)
        i++
      }
      assert.is(i, want.length, `${label}: ${key} record count`)
      figures.records += i
    }
    const injected = injectedTotal() - before
    const stats = reader.stats().source
    assert.ok(injected > 0, `${label}: faults were injected`)
    assert.ok(stats.retries >= 1, `${label}: retries visible in stats ${JSON.stringify(stats)}`)
    figures.epochs++
    figures.faults += injected
    figures.retries += stats.retries
  } finally {
    proxy.setFaults([])
    await reader.close()
  }
}

for (const kind of KINDS) {
  test(`TFRecord epoch under ${kind} alone: exact records, retries counted`, async () => {
    await epoch([{ kind, nth: [2], rate: 0.1, methods: ['GET', 'HEAD'] }], kind)
  })
}

test('TFRecord epoch with every fault mixed at 10% of requests', async () => {
  await epoch(KINDS.map((kind) => ({ kind, rate: 0.1 / KINDS.length, methods: ['GET', 'HEAD'] })), 'mixed')
  await epoch([{ kind: KINDS[0], nth: [1] }, ...KINDS.map((kind) => ({ kind, rate: 0.1 / KINDS.length, methods: ['GET', 'HEAD'] }))], 'mixed, second seed run')
})

test('an ETag change mid-epoch stops it with ERR_SLUICE_OBJECT_CHANGED after only correct records', async () => {
  const key = [...shards.keys()].at(-1)!
  const want = expected.get(key)!
  proxy.setFaults([{ kind: 'etag', nth: [3] }])
  const reader = faultyReader()
  let i = 0
  try {
    for await (const r of tfrecords(reader, `s3://data/${key}`)) {
      assert.ok(Buffer.from(r).equals(want[i]!), `record ${i} is the original version's`)
      i++
    }
    assert.unreachable(`epoch finished (${i} records) across an ETag change`)
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_OBJECT_CHANGED', String(err))
    assert.ok(i < want.length)
  } finally {
    proxy.setFaults([])
    await reader.close()
  }
})

fuseIt('through a FUSE mount with every fault mixed at 10%: separate processes read identical files', async () => {
  const reader = faultyReader()
  const mnt = await tempMountpoint('rel-faults')
  const logs: string[] = []
  const m = await mount(reader, 's3://data/train', mnt, { log: (l) => logs.push(l) })
  try {
    const before = injectedTotal()
    proxy.setFaults(KINDS.map((kind) => ({ kind, rate: 0.1 / KINDS.length, methods: ['GET', 'HEAD'] })))
    const keys = [...shards.keys()]
    const results = await Promise.all(keys.map((k) => run('sha256sum', [join(mnt, k.slice('train/'.length))], { timeoutMs: 60_000 })))
    results.forEach((r, i) => {
      const want = createHash('sha256').update(shards.get(keys[i]!)!).digest('hex')
      assert.is(r.stdout.split(' ')[0], want, `${keys[i]}: ${r.stderr} ${logs.join(' | ')}`)
      figures.fuseFilesVerified++
    })
    assert.ok(injectedTotal() > before, 'faults were injected under the mount')
    figures.faults += injectedTotal() - before
    figures.retries += reader.stats().source.retries
    assert.ok(reader.stats().source.retries >= 1, JSON.stringify(reader.stats().source))
    figures.epochs++
  } finally {
    proxy.setFaults([])
    await m.unmount().catch((err) => console.error('unmount failed:', err))
    await cleanupMountpoint(mnt)
    await reader.close()
  }
})

test.run()
