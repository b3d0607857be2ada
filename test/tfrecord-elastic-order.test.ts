/**
 * One order per (dataset, seed, epoch), whatever the world size (loaders/tfrecord/plan.ts):
 * without a shuffle buffer, the ranks of any world read parts of the one-rank order, and the
 * documented rule puts their orders back together into it; with a buffer, each rank shuffles
 * its own part. A job resumed at one rank continues in that order. Shards live in s3rver on
 * loopback (some gzip) and are read by a real BlockReader.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { BlockReader } from '../lib/block-reader.js'
import { mergeStates, type TFRecordState } from '../loaders/tfrecord/index.js'
import { readRank, sorted, type RankOptions } from './support/elastic-job.js'
import { startTestS3, type TestS3 } from './support/s3.js'
import { putShards, s3Reader } from './support/s3-shards.js'

const BUCKET = 'order'
/** Seven shards, none empty, three gzip. */
const MANY = `s3://${BUCKET}/many/`
/** Three uncompressed shards, for global shuffle. */
const PLAIN = `s3://${BUCKET}/plain/`

const test = suite('tfrecord: one order whatever the world size')
let s3: TestS3
let reader: BlockReader
let many: string[]

test.before(async () => {
  s3 = await startTestS3([BUCKET])
  const gz = (records: number) => ({ records, gzip: true })
  many = await putShards(s3, BUCKET, 'many/', [{ records: 12 }, gz(9), { records: 15 }, gz(4), { records: 11 }, gz(7), { records: 13 }])
  await putShards(s3, BUCKET, 'plain/', [{ records: 37 }, { records: 26 }, { records: 44 }])
  reader = s3Reader(s3)
})

test.after(async () => {
  await reader.close()
  await s3.close()
})

/** Every rank of a world read to the end: each rank's records. */
async function world(source: string, rank: RankOptions, count: number): Promise<string[][]> {
  const parts: string[][] = []
  for (let index = 0; index < count; index++) parts.push((await readRank(reader, source, rank, index, count, Number.POSITIVE_INFINITY)).labels)
  return parts
}

/** A rank's records cut where the shard changes. */
function shardRuns(labels: string[]): string[][] {
  const runs: string[][] = []
  labels.forEach((l, i) => {
    if (i === 0 || l.split('-')[0] !== labels[i - 1]!.split('-')[0]) runs.push([])
    runs[runs.length - 1]!.push(l)
  })
  return runs
}

test('files mode: shards of the one-rank order are dealt round-robin; interleaving them shard by shard gives it back', async () => {
  const rank: RankOptions = { options: { shuffle: { seed: 3, buffer: 0 } } }
  const [one] = await world(MANY, rank, 1)
  assert.equal(sorted(one!), sorted(many))
  assert.not.equal(one, many, 'the shard order is shuffled')
  for (const count of [2, 3]) {
    const runs = (await world(MANY, rank, count)).map(shardRuns)
    const interleaved: string[] = []
    for (let g = 0; g < many.length; g++) interleaved.push(...(runs[g % count]![Math.floor(g / count)] ?? []))
    assert.equal(interleaved, one, `${count} ranks`)
  }
})

test('records mode and global shuffle: ranks hold contiguous, equal parts of the one-rank order; concatenated they are it', async () => {
  const cases: [string, RankOptions][] = [
    [MANY, { options: { shuffle: { seed: 4, buffer: 0 } }, mode: 'records' }],
    [MANY, { mode: 'records' }],
    [PLAIN, { options: { shuffle: { seed: 5, global: true } } }],
  ]
  for (const [source, rank] of cases) {
    const [one] = await world(source, rank, 1)
    for (const count of [3, 4]) {
      const parts = await world(source, rank, count)
      assert.equal(parts.flat(), one, `${JSON.stringify(rank)} at ${count} ranks`)
      const sizes = parts.map((p) => p.length)
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`)
    }
  }
})

test('with a shuffle buffer, each rank shuffles its own part', async () => {
  for (const mode of ['files', 'records'] as const) {
    const plain = await world(MANY, { options: { shuffle: { seed: 6, buffer: 0 } }, mode }, 3)
    const buffered = await world(MANY, { options: { shuffle: { seed: 6, buffer: 8 } }, mode }, 3)
    buffered.forEach((part, r) => assert.equal(sorted(part), sorted(plain[r]!), `${mode}: rank ${r} holds the same records`))
    assert.not.equal(buffered, plain, `${mode}: in another order`)
  }
})

test('a job resumed at one rank without a buffer continues in the one-rank order', async () => {
  const cases: [string, RankOptions][] = [
    [MANY, { options: { shuffle: { seed: 7, buffer: 0 } } }],
    [MANY, { mode: 'records' }],
    [PLAIN, { options: { shuffle: { seed: 8, global: true } } }],
  ]
  for (const [source, rank] of cases) {
    const [one] = await world(source, rank, 1)
    const states: TFRecordState[] = []
    const delivered = new Set<string>()
    for (const [index, cut] of [[0, 10], [1, 17]] as const) {
      const run = await readRank(reader, source, rank, index, 2, cut)
      run.labels.forEach((l) => delivered.add(l))
      states.push(run.state)
    }
    const rest = await readRank(reader, source, rank, 0, 1, Number.POSITIVE_INFINITY, mergeStates(states))
    assert.equal(rest.labels, one!.filter((l) => !delivered.has(l)), JSON.stringify(rank))
  }
})

test.run()
