import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { TFRecordCorruptionError } from '../lib/errors.js'
import { BlockReader, MemorySource, MiB, type Source } from '../lib/index.js'
import { encodeExample, tfrecords, type TFRecordOptions, type TFRecordState } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { errorLike } from './support/expect-error.js'
import { numberedRecords, prng } from './support/tfrecord-fixtures.js'
import { collect, label, makeShards, SHARD_BLOCK_BYTES } from './support/tfrecord-shards.js'
import { waitFor, waitUntil } from './support/wait.js'

const PREFIX = 'mem://bucket/train/'

test('reads every record of every shard in file order', async () => {
  const { reader, all } = makeShards([5, 0, 17, 3])
  assert.equal(await collect(reader, PREFIX), all)
  assert.is(reader.openHandles, 0, 'handles closed')
})

test('sources: URL, list, prefix, glob', async () => {
  const { reader, source, urls, all } = makeShards([3, 4, 5])
  source.put(PREFIX + '_SUCCESS', new Uint8Array(0))
  source.put(PREFIX + 'sub/other.tfrecord', encodeTFRecords(numberedRecords(2, 'x')))
  assert.equal(await collect(reader, urls[1]!), all.slice(3, 7))
  assert.equal(await collect(reader, [urls[2]!, urls[0]!]), [...all.slice(7), ...all.slice(0, 3)])
  assert.equal(await collect(reader, PREFIX + 'shard-*.tfrecord'), all)
  assert.equal(await collect(reader, PREFIX + 'shard-0000?.tfrecord'), all)
  assert.equal(await collect(reader, PREFIX + '*.tfrecord'), all, '* does not cross /')
  assert.equal((await collect(reader, PREFIX)).length, all.length + 2, 'prefix lists recursively, skips _SUCCESS')
  try {
    await collect(reader, PREFIX + 'nothing-*')
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code: string }).code, 'ERR_SLUICE_NOT_FOUND')
  }
})

test('bad options throw at once, naming the option', () => {
  const { reader } = makeShards([1])
  const bad: [unknown, RegExp, Function][] = [
    [{ compression: 'lz4' }, /compression/, RangeError],
    [{ verify: 'yes' }, /verify/, TypeError],
    [{ shuffle: { buffer: 10 } }, /shuffle\.seed/, TypeError],
    [{ shuffle: { seed: 1, buffer: -1 } }, /shuffle\.buffer/, RangeError],
    [{ shard: { index: 3, count: 3 } }, /shard\.index/, RangeError],
    [{ shard: { index: 0 } }, /shard\.count/, TypeError],
    [{ maxRecordBytes: 1.5 }, /maxRecordBytes/, TypeError],
    [{ readAhead: { shards: 1000 } }, /readAhead\.shards/, RangeError],
    [{ readAhead: { plan: 'yes' } }, /readAhead\.plan/, TypeError],
    [{ readAhead: { plan: { ranksPerNode: 0 } } }, /readAhead\.plan\.ranksPerNode/, RangeError],
    [{ onCorrupt: 'ignore' }, /onCorrupt/, RangeError],
    [{ resume: { v: 2 } }, /resume/, TypeError],
    [{ shufle: false }, /unknown option/, TypeError],
  ]
  for (const [options, message, type] of bad) {
    try {
      tfrecords(reader, PREFIX, options as TFRecordOptions)
      assert.unreachable(JSON.stringify(options))
    } catch (err) {
      assert.instance(err, type, JSON.stringify(options))
      assert.match((err as Error).message, message)
    }
  }
  assert.throws(() => tfrecords(reader, [], {}), errorLike(TypeError, /source must be .* a non-empty array/))
  assert.throws(() => tfrecords(reader, PREFIX).batch(0), errorLike(RangeError, /batch: n must be a positive integer, got 0/))
})

test('shuffle: one seed gives one order, another seed another, and every record once', async () => {
  const { reader, all } = makeShards([40, 25, 33, 2, 50])
  const opts = (seed: number, epoch = 0): TFRecordOptions => ({ shuffle: { seed, buffer: 16 }, epoch })
  const a = await collect(reader, PREFIX, opts(7))
  const b = await collect(reader, PREFIX, opts(7))
  const c = await collect(reader, PREFIX, opts(8))
  const d = await collect(reader, PREFIX, opts(7, 1))
  assert.equal(a, b)
  assert.not.equal(a, c)
  assert.not.equal(a, d, 'epochs differ')
  assert.not.equal(a, all)
  assert.equal([...a].sort(), [...all].sort())
  // buffer 0 permutes shards only: each shard's records stay in order and together
  const shardsOnly = await collect(reader, PREFIX, { shuffle: { seed: 3, buffer: 0 } })
  assert.equal([...shardsOnly].sort(), [...all].sort())
  const firsts = shardsOnly.filter((r) => r.endsWith('-0'))
  assert.not.equal(firsts, ['s0-0', 's1-0', 's2-0', 's3-0', 's4-0'])
})

async function rankUnion(sizes: number[], count: number, options: TFRecordOptions = {}): Promise<{ parts: string[][]; all: string[] }> {
  const { reader, all } = makeShards(sizes)
  const parts: string[][] = []
  for (let index = 0; index < count; index++) parts.push(await collect(reader, PREFIX, { ...options, shard: { index, count } }))
  return { parts, all }
}

test('sharding by files: every record to exactly one rank', async () => {
  for (const options of [{}, { shuffle: { seed: 5, buffer: 8 } }]) {
    const { parts, all } = await rankUnion([10, 11, 12, 13, 14, 15, 16], 3, options)
    assert.equal(parts.flat().sort(), [...all].sort())
    // whole files: no shard appears in two ranks
    const owner = new Map<string, number>()
    parts.forEach((p, rank) =>
      p.forEach((r) => {
        const shard = r.split('-')[0]!
        assert.ok((owner.get(shard) ?? rank) === rank, `${shard} read by two ranks`)
        owner.set(shard, rank)
      }),
    )
  }
})

test('sharding by records when ranks outnumber shards: exactly once, balanced', async () => {
  for (const options of [{}, { shuffle: { seed: 9, buffer: 5 } }]) {
    const { parts, all } = await rankUnion([23, 0, 19], 5, options)
    assert.equal(parts.flat().sort(), [...all].sort())
    const sizes = parts.map((p) => p.length)
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`)
  }
})

test('sharding by records over gzip shards (no byte ranges) also covers everything once', async () => {
  const { reader, source, all } = makeShards([0])
  const { gzipSync } = await import('node:zlib')
  const recs = numberedRecords(31, 'g-')
  source.put('mem://z/a.tfrecord.gz', gzipSync(encodeTFRecords(recs.slice(0, 20))))
  source.put('mem://z/b.tfrecord.gz', gzipSync(encodeTFRecords(recs.slice(20))))
  void all
  const parts: string[] = []
  for (let index = 0; index < 4; index++) parts.push(...(await collect(reader, 'mem://z/', { shard: { index, count: 4 } })))
  assert.equal(parts.sort(), recs.map(label).sort())
})

/** Reads `cut` items, takes the state through JSON, resumes, and returns both parts. */
async function interrupted(sizes: number[], options: TFRecordOptions, cuts: number[]): Promise<{ full: string[]; pieces: string[] }> {
  const { reader } = makeShards(sizes)
  const full = await collect(reader, PREFIX, options)
  const pieces: string[] = []
  let state: TFRecordState | undefined
  for (const cut of [...cuts, Infinity]) {
    const ds = tfrecords(reader, PREFIX, { ...options, resume: state })
    let n = 0
    if (cut > (state?.delivered ?? 0)) {
      for await (const r of ds) {
        pieces.push(label(r))
        if (++n + (state?.delivered ?? 0) >= cut) break
      }
    }
    state = JSON.parse(JSON.stringify(ds.state())) as TFRecordState
  }
  assert.is(reader.openHandles, 0, 'handles closed after break')
  return { full, pieces }
}

test('resume gives exactly the rest, in the uninterrupted order (random cut points)', async () => {
  const rand = prng(42)
  const sizes = [30, 7, 0, 45, 22]
  const total = sizes.reduce((a, b) => a + b)
  const configs: TFRecordOptions[] = [
    {},
    { shuffle: { seed: 1, buffer: 10 } },
    { shuffle: { seed: 2, buffer: 200 } }, // buffer larger than the data
    { shuffle: { seed: 3, buffer: 0 } },
    { shuffle: { seed: 4, buffer: 6 }, shard: { index: 1, count: 2 } },
    { shuffle: { seed: 5, buffer: 6 }, shard: { index: 2, count: 7 } }, // records mode
    { shuffle: { seed: 6, global: true }, shard: { index: 0, count: 2 } },
    { shuffle: { seed: 7, buffer: 4, copy: false } },
  ]
  for (const options of configs) {
    for (let trial = 0; trial < 4; trial++) {
      const cuts = [1 + Math.floor(rand() * total * 0.4), Math.floor(total * 0.5) + Math.floor(rand() * total * 0.4)]
      const { full, pieces } = await interrupted(sizes, options, cuts)
      assert.equal(pieces, full, `${JSON.stringify(options)} cut at ${cuts}`)
    }
  }
})

test('resume refuses a state from another plan', async () => {
  const { reader } = makeShards([5, 5])
  const ds = tfrecords(reader, PREFIX, { shuffle: { seed: 1, buffer: 3 } })
  for await (const _ of ds) break
  const state = ds.state()
  try {
    for await (const _ of tfrecords(reader, PREFIX, { shuffle: { seed: 2, buffer: 3 }, resume: state })) break
    assert.unreachable()
  } catch (err) {
    assert.instance(err, RangeError)
    assert.match((err as Error).message, /resume/)
  }
})

test('global shuffle: an exact permutation of every record, split across ranks', async () => {
  const { reader, all } = makeShards([13, 0, 29, 8])
  const parts: string[] = []
  for (let index = 0; index < 3; index++) parts.push(...(await collect(reader, PREFIX, { shuffle: { seed: 11, global: true }, shard: { index, count: 3 } })))
  assert.equal([...parts].sort(), [...all].sort())
  const again = await collect(reader, PREFIX, { shuffle: { seed: 11, global: true } })
  const other = await collect(reader, PREFIX, { shuffle: { seed: 12, global: true } })
  assert.equal([...again].sort(), [...all].sort())
  assert.not.equal(again, other)
  // global shuffle mixes across shards from the very first records
  const firstShards = new Set(again.slice(0, 10).map((r) => r.split('-')[0]))
  assert.ok(firstShards.size > 1)
})

test('batch(n), examples() and stats()', async () => {
  const { reader, source } = makeShards([0])
  const records = Array.from({ length: 10 }, (_, i) => encodeExample({ id: { kind: 'int64', value: [i] }, name: [`n${i}`] }))
  source.put('mem://ex/a.tfrecord', encodeTFRecords(records))
  const ds = tfrecords(reader, 'mem://ex/a.tfrecord')
  const batches: number[][] = []
  for await (const batch of ds.examples({ int64: 'number' }).batch(4)) {
    batches.push(batch.map((ex) => (ex.id!.value as number[])[0]!))
  }
  assert.equal(batches, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
  const dropped: number[] = []
  for await (const batch of ds.batch(4, { dropRemainder: true })) dropped.push(batch.length)
  assert.equal(dropped, [4, 4])
  const stats = ds.stats()
  assert.is(stats.records, 20)
  assert.ok(stats.bytes > 0)
  assert.is(stats.shardsDone, 2)
})

test('stats().waitMs counts the time the consumer waited for the reader', async () => {
  const mem = new MemorySource('mem')
  mem.put('mem://wait/a.tfrecord', encodeTFRecords(numberedRecords(10, 'w-')))
  // The store holds its first answer until released, so the consumer has to wait for it.
  let asked!: () => void
  let release!: () => void
  const storeAsked = new Promise<void>((resolve) => (asked = resolve))
  const released = new Promise<void>((resolve) => (release = resolve))
  const held: Source = {
    schemes: ['mem'],
    stat: (url) => mem.stat(url),
    list: (prefix) => mem.list(prefix),
    readRange: async (info, start, end) => {
      asked()
      await released
      return mem.readRange(info, start, end)
    },
  }
  const reader = new BlockReader({ sources: [held], memory: { maxBytes: 1 * MiB } })
  try {
    const ds = tfrecords(reader, 'mem://wait/a.tfrecord')
    const started = performance.now()
    const records = ds[Symbol.asyncIterator]()
    const first = records.next()
    await storeAsked
    await new Promise((resolve) => setImmediate(resolve)) // the consumer is now parked on the empty queue
    const holdFrom = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 50)) // the wait being measured, not a guess at an event
    const heldMs = performance.now() - holdFrom
    release()
    const labels = [label((await first).value as Uint8Array)]
    for (let r = await records.next(); !r.done; r = await records.next()) labels.push(label(r.value as Uint8Array))
    const elapsedMs = performance.now() - started
    assert.equal(labels, numberedRecords(10, 'w-').map(label))
    const { waitMs } = ds.stats()
    assert.ok(waitMs >= heldMs, `waited at least the ${heldMs} ms the store held the data: ${waitMs}`)
    assert.ok(waitMs <= elapsedMs, `and no more than the ${elapsedMs} ms the iteration took: ${waitMs}`)
  } finally {
    await reader.close()
  }
})

test('corruption: records before it are delivered, then the error; skip mode counts it', async () => {
  const bytes = encodeTFRecords(numberedRecords(20, 'c-'))
  const all = numberedRecords(20, 'c-').map(label)
  const record5 = 5 * (3 + 16) // records c-0..c-9 are 3 bytes, each framed by 16
  bytes[record5 + 12 + 1] = bytes[record5 + 12 + 1]! ^ 1 // inside record 5's data
  // The whole shard is one block, so one chunk holds the good records and the damage: the
  // good records must be handed over before the error is thrown.
  const { reader, source } = makeShards([0])
  source.put('mem://bad/a.tfrecord', bytes)
  const got: string[] = []
  try {
    for await (const r of tfrecords(reader, 'mem://bad/a.tfrecord')) got.push(label(r))
    assert.unreachable('read past the damage')
  } catch (err) {
    assert.instance(err, TFRecordCorruptionError)
    const e = err as TFRecordCorruptionError
    assert.is(e.check, 'data-crc')
    assert.is(e.offset, record5, 'the error points at the damaged record')
    assert.match(e.message, 'mem://bad/a.tfrecord')
  }
  assert.equal(got, all.slice(0, 5), 'every record before the damage was delivered')
  const ds = tfrecords(reader, 'mem://bad/a.tfrecord', { onCorrupt: 'skip' })
  const skipped: string[] = []
  for await (const r of ds) skipped.push(label(r))
  assert.equal(skipped, all.filter((l) => l !== 'c-5'), 'skip mode drops the damaged record only')
  assert.is(ds.stats().corruptSkipped, 1)
})

/**
 * Records padded to about 420 framed bytes: a shard of 50 spans six 4 KiB blocks, so the
 * loader sees one batch per block as it goes, as it would in a real shard. A queue smaller
 * than one batch keeps the producer one batch ahead of the consumer, so what has been hinted
 * by the nth record is what the loader decided by then.
 */
const PAD = 400
const QUEUE_BYTES = 2000

test('read-ahead: the next shards are opened early and hinted piece by piece as the current one ends', async () => {
  const RA = 8000
  const { reader } = makeShards([50, 50, 50, 50], { pad: PAD }) // about 21 KB each
  const ds = tfrecords(reader, PREFIX, { readAhead: { shards: 2, bytes: RA, queueBytes: QUEUE_BYTES } })
  const hintedInto = (k: number) => reader.log.prefetches.filter((p) => p.url === PREFIX + `shard-0000${k}.tfrecord`)
  let n = 0
  let early: { opened: string[]; hinted: number; readAhead: number } | undefined
  let nearEnd: { shard1: number; shard2: number; pieces: number } | undefined
  for await (const _ of ds) {
    n++
    if (n === 3) early = { opened: [...reader.log.opens], hinted: reader.log.prefetches.length, readAhead: reader.log.reads.filter((r) => !r.url.endsWith('shard-00000.tfrecord')).length }
    if (n === 49) nearEnd = { shard1: hintedInto(1).reduce((a, p) => a + p.length, 0), shard2: hintedInto(2).length, pieces: hintedInto(1).length }
    if (n === 99) break // near the end of shard 1
  }
  assert.ok(early!.opened.includes(PREFIX + 'shard-00001.tfrecord') && early!.opened.includes(PREFIX + 'shard-00002.tfrecord'), 'the next two shards are opened early')
  assert.is(early!.hinted, 0, 'nothing is hinted while the current shard has more than readAhead.bytes left')
  assert.is(early!.readAhead, 0, 'nor read (a format sniff of an upcoming shard would start its read-ahead)')
  assert.ok(nearEnd!.shard1 > RA / 2 && nearEnd!.shard1 <= RA, `near the end of shard 0, up to readAhead.bytes of shard 1 is hinted (${nearEnd!.shard1})`)
  assert.ok(nearEnd!.pieces > 1, 'in several pieces, not one burst')
  assert.is(nearEnd!.shard2, 0, 'shard 2 waits until shard 1 is within readAhead.bytes of its end')
  assert.ok(hintedInto(2).length > 0, 'and is hinted near the end of shard 1')
  assert.ok(!reader.log.prefetches.some((p) => p.url === PREFIX + 'shard-00003.tfrecord' && p.position > RA), 'never more than readAhead.bytes into a shard')
  assert.is(reader.openHandles, 0)
})

test('read-ahead: a hint cut short by the prefetch budget is offered again, leaving no gap', async () => {
  const RA = 12_000
  // One block of prefetch budget and no read-ahead of the handles' own: the loader's hints
  // are the only prefetch. The first fetch of shard 1 is held at the source, so the hints
  // after it are cut short until it lands and gives its budget back.
  const { reader, faults } = makeShards([50, 50], { pad: PAD, reader: { prefetch: { maxInflightBytes: SHARD_BLOCK_BYTES, maxReadAheadBytes: 0 } } })
  faults.setFaults([{ kind: 'stall', url: 'shard-00001', nth: [1] }])
  const hints = () => reader.log.prefetches.filter((p) => p.url === PREFIX + 'shard-00001.tfrecord')
  const ds = tfrecords(reader, PREFIX, { readAhead: { shards: 1, bytes: RA, queueBytes: QUEUE_BYTES } })
  let n = 0
  let cutShort = false
  let released = false
  for await (const _ of ds) {
    n++
    // Past record 48 shard 1 is about to be read: never leave its first fetch held then.
    if (!released && (hints().some((p) => p.reached < p.position + p.length) || n === 48)) {
      cutShort = hints().some((p) => p.reached < p.position + p.length)
      released = true
      faults.release()
      await waitUntil(() => reader.inner.stats().prefetch.inflightBytes === 0, 'the held prefetch gave its budget back')
    }
    if (n === 50) break // the end of shard 0: every hint into shard 1 has been made
  }
  assert.ok(cutShort, 'a hint into shard 1 was cut short while the budget was spent')
  const reached = hints()
    .map((p) => [p.position, p.reached] as const)
    .sort((a, b) => a[0] - b[0])
  let covered = 0
  for (const [from, to] of reached) if (from <= covered) covered = Math.max(covered, to)
  assert.ok(covered >= RA / 2, `shard 1 covered from its start up to ${covered} bytes without a gap`)
})

test('a bounded queue: a slow consumer does not make the reader buffer everything', async () => {
  const { reader } = makeShards([2000], { pad: 1000 }) // about 2 MB
  const queueBytes = 20_000
  const ds = tfrecords(reader, PREFIX, { readAhead: { queueBytes } })
  let n = 0
  for await (const _ of ds) {
    if (++n === 5) {
      // Hold on record 5 until the reader has filled the queue and stopped reading. Unbounded,
      // it would stop only at the end of the shard, and the assertion below fails.
      let last = -1
      await waitFor('the reader to fill the queue and stop', () => {
        const served = reader.bytesServed
        const stopped = served >= queueBytes && served === last
        last = served
        return stopped
      })
      break
    }
  }
  assert.ok(reader.bytesServed < 60_000, `read ${reader.bytesServed} bytes for 5 records`)
  assert.is(reader.openHandles, 0)
})

test.run()
