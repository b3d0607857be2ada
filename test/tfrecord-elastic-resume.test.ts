/**
 * Resuming an epoch at another world size (loaders/tfrecord/elastic.ts): a job stopped at N
 * ranks at random cut points, its states merged, resumed at M ranks, delivers every record of
 * the epoch exactly once across the job, in every mode: files and records partitioning, with
 * and without a shuffle buffer, gzip shards among them, and global shuffle (uncompressed
 * only: it reads records by ranged reads). Shards live in s3rver on loopback and are read by
 * a real BlockReader.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { BlockReader } from '../lib/block-reader.js'
import { elasticJob, sorted, type RankOptions } from './support/elastic-job.js'
import { startTestS3, type TestS3 } from './support/s3.js'
import { putShards, s3Reader } from './support/s3-shards.js'
import { prng } from './support/tfrecord-fixtures.js'

const BUCKET = 'elastic'
/** Six shards, two gzip, one empty: files mode up to six ranks. */
const MIXED = `s3://${BUCKET}/mixed/`
const MIXED_SHARDS = [{ records: 23 }, { records: 31, gzip: true }, { records: 0 }, { records: 17 }, { records: 40, gzip: true }, { records: 9 }]
/** Three uncompressed shards: global shuffle, and auto partitioning that turns to records past three ranks. */
const PLAIN = `s3://${BUCKET}/plain/`
const PLAIN_SHARDS = [{ records: 37 }, { records: 26 }, { records: 44 }]

const test = suite('tfrecord: resume at another world size')
let s3: TestS3
let reader: BlockReader
const everything = new Map<string, string[]>()

test.before(async () => {
  s3 = await startTestS3([BUCKET])
  everything.set(MIXED, await putShards(s3, BUCKET, 'mixed/', MIXED_SHARDS))
  everything.set(PLAIN, await putShards(s3, BUCKET, 'plain/', PLAIN_SHARDS))
  reader = s3Reader(s3)
})

test.after(async () => {
  await reader.close()
  await s3.close()
})

interface Case {
  name: string
  source: string
  rank: RankOptions
}

const CASES: Case[] = [
  { name: 'files, shuffle buffer', source: MIXED, rank: { options: { shuffle: { seed: 1, buffer: 8 } } } },
  { name: 'records, shuffle buffer', source: MIXED, rank: { options: { shuffle: { seed: 2, buffer: 8 } }, mode: 'records' } },
  { name: 'files, shard order shuffled only', source: MIXED, rank: { options: { shuffle: { seed: 3, buffer: 0 } } } },
  { name: 'records, no shuffle', source: MIXED, rank: { mode: 'records' } },
  { name: 'auto (files, then records past three ranks), shuffle buffer', source: PLAIN, rank: { options: { shuffle: { seed: 4, buffer: 6 } } } },
  { name: 'global shuffle', source: PLAIN, rank: { options: { shuffle: { seed: 5, global: true } } } },
]

/** Runs the job over `worlds` at `trials` sets of random cut points, asserting every record once. */
async function everyRecordOnce(c: Case, worlds: number[], seed: number, trials = 3): Promise<void> {
  const all = everything.get(c.source)!
  const rand = prng(seed)
  for (let trial = 0; trial < trials; trial++) {
    const { delivered, merged } = await elasticJob(reader, c.source, c.rank, worlds, all.length, rand)
    const what = `${c.name}, worlds ${worlds.join(' -> ')}, trial ${trial}`
    assert.equal(sorted(delivered), sorted(all), `${what}: every record of the epoch, each once`)
    assert.is(merged.at(-1)!.elastic!.part.length, 0, `${what}: nothing owed at the end`)
  }
}

for (const c of CASES) {
  test(`${c.name}: N=2 -> M=3`, () => everyRecordOnce(c, [2, 3], 23))
  test(`${c.name}: N=4 -> M=1`, () => everyRecordOnce(c, [4, 1], 41))
  test(`${c.name}: N=2 -> M=5 -> K=2 (a resumed job resumed again)`, () => everyRecordOnce(c, [2, 5, 2], 252, 2))
}

test.run()
