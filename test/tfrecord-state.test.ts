/**
 * The resume state as a dataset reports it and takes it back (loaders/tfrecord/state.ts,
 * run.ts, elastic.ts): while planning, from before elastic resume, of a rank resumed at
 * another world size, and what mergeStates and resume refuse. Shards live in s3rver on
 * loopback and are read by a real BlockReader.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MiB, S3Source } from '../lib/index.js'
import { FaultySource } from '../lib/testing/index.js'
import { mergeStates, tfrecords, type TFRecordState } from '../loaders/tfrecord/index.js'
import { readRank, type RankOptions } from './support/elastic-job.js'
import { errorLike } from './support/expect-error.js'
import { startTestS3, type TestS3 } from './support/s3.js'
import { putShards, s3Reader } from './support/s3-shards.js'
import { label } from './support/tfrecord-shards.js'

const BUCKET = 'states'
const PLAIN = `s3://${BUCKET}/plain/`

const test = suite('tfrecord: resume states')
let s3: TestS3
let all: string[]
let reader: BlockReader

test.before(async () => {
  s3 = await startTestS3([BUCKET])
  all = await putShards(s3, BUCKET, 'plain/', [{ records: 37 }, { records: 26 }, { records: 44 }])
  reader = s3Reader(s3)
})

test.after(async () => {
  await reader.close()
  await s3.close()
})

test('while a resumed run is still planning, its state is the state it was given', async () => {
  const rank: RankOptions = { options: { shuffle: { seed: 7, global: true } } }
  const { labels: whole } = await readRank(reader, PLAIN, rank, 0, 1, Number.POSITIVE_INFINITY)
  const { state } = await readRank(reader, PLAIN, rank, 0, 1, 10)
  assert.equal([...whole].sort(), [...all].sort())
  // A fresh reader has no record index yet: planning reads the shards, and those reads are held.
  const faults = new FaultySource(new S3Source(s3.server.s3))
  faults.setFaults([{ kind: 'stall' }])
  const held = new BlockReader({ blockSize: 4 * KiB, memory: { maxBytes: 16 * MiB }, sources: [faults] })
  try {
    const ds = tfrecords(held, PLAIN, { ...rank.options, resume: state })
    const first = ds[Symbol.asyncIterator]().next()
    await faults.whenStalled(1)
    const planning = ds.state()
    faults.setFaults([])
    faults.release()
    const next = label((await first).value as Uint8Array)
    await ds.close()
    assert.equal(planning, state, 'a checkpoint taken while planning resumes where the given state did')
    assert.is(next, whole[10], 'and the run continues after the given state')
  } finally {
    await held.close()
  }
})

const BUFFERED: RankOptions = { options: { shuffle: { seed: 3, buffer: 6 } } }

/** The states of both ranks of a world of two cut at 9 and 14 records. */
async function twoRanks(rank: RankOptions, resume?: TFRecordState): Promise<TFRecordState[]> {
  return [(await readRank(reader, PLAIN, rank, 0, 2, 9, resume)).state, (await readRank(reader, PLAIN, rank, 1, 2, 14, resume)).state]
}

/** Rejects unless `fn` throws `type` with a message matching `message`. */
async function refuses(fn: () => Promise<unknown> | unknown, type: new (...args: never[]) => Error, message: RegExp): Promise<void> {
  try {
    await fn()
  } catch (err) {
    errorLike(type, message)(err)
    return
  }
  assert.unreachable(`expected a ${type.name} matching ${message}`)
}

test('a state from before elastic resume keeps resuming its own rank, and only that', async () => {
  const whole = (await readRank(reader, PLAIN, BUFFERED, 1, 2, Number.POSITIVE_INFINITY)).labels
  const { labels, state } = await readRank(reader, PLAIN, BUFFERED, 1, 2, 11)
  delete state.elastic // as sluice wrote states before elastic resume
  const rest = await readRank(reader, PLAIN, BUFFERED, 1, 2, Number.POSITIVE_INFINITY, state)
  assert.equal([...labels, ...rest.labels], whole, 'exactly the rest, in the uninterrupted order')
  const other = (await readRank(reader, PLAIN, BUFFERED, 0, 2, 5)).state
  await refuses(() => mergeStates([other, state]), TypeError, /states\[1\] has no elastic part .* only its own rank/)
  await refuses(() => readRank(reader, PLAIN, BUFFERED, 0, 3, 1, state), RangeError, /resume state belongs to a different plan/)
})

test('a rank resumed at another world size resumes exactly from its own state at that size', async () => {
  for (const rank of [BUFFERED, { ...BUFFERED, mode: 'records' as const }, { options: { shuffle: { seed: 4, global: true } } }]) {
    const merged = mergeStates(await twoRanks(rank))
    const whole = (await readRank(reader, PLAIN, rank, 1, 3, Number.POSITIVE_INFINITY, merged)).labels
    const { labels, state } = await readRank(reader, PLAIN, rank, 1, 3, 7, merged)
    const rest = await readRank(reader, PLAIN, rank, 1, 3, Number.POSITIVE_INFINITY, state)
    assert.equal([...labels, ...rest.labels], whole, JSON.stringify(rank))
  }
})

test('mergeStates: one result whatever the order of the states, and JSON in, JSON out', async () => {
  const [a, b] = await twoRanks(BUFFERED)
  const merged = mergeStates([a!, b!])
  assert.equal(mergeStates([b!, a!]), merged)
  assert.equal(JSON.parse(JSON.stringify(merged)), merged)
  assert.is(merged.elastic!.world, 1, 'a world of one that has delivered nothing of what is owed')
  assert.is(merged.delivered, 0)
})

test('mergeStates refuses what is not the whole world of one job, resumed from one place', async () => {
  const [a, b] = await twoRanks(BUFFERED)
  const [, otherSeed] = await twoRanks({ options: { shuffle: { seed: 99, buffer: 6 } } })
  const [, later] = await twoRanks(BUFFERED, mergeStates([a!, b!]))
  const sameRecords: TFRecordState = { ...b!, elastic: { ...b!.elastic!, part: a!.elastic!.part } }
  await refuses(() => mergeStates([]), TypeError, /non-empty array/)
  await refuses(() => mergeStates([a!, { v: 1 } as TFRecordState]), TypeError, /states\[1\] must be a state returned by ds.state\(\)/)
  await refuses(() => mergeStates([a!]), RangeError, /all 2 ranks are needed; missing rank 1/)
  await refuses(() => mergeStates([a!, a!]), RangeError, /rank 0 of 2 appears twice/)
  await refuses(() => mergeStates([a!, otherSeed!]), RangeError, /states\[1\] differs from states\[0\] in its job/)
  await refuses(() => mergeStates([a!, later!]), RangeError, /states\[1\] differs from states\[0\] in its from/)
  await refuses(() => mergeStates([a!, sameRecords]), RangeError, /two states owe the same records/)
})

test('resume takes a state of this rank of this world, or a merged one of the same job', async () => {
  const [a, b] = await twoRanks(BUFFERED)
  await refuses(() => readRank(reader, PLAIN, BUFFERED, 0, 3, 1, b), RangeError, /state is rank 1's of 2, not rank 0's of 3; .* mergeStates\(\) of the states of all 2 ranks/)
  const merged = mergeStates([a!, b!])
  await refuses(() => readRank(reader, PLAIN, { options: { shuffle: { seed: 99, buffer: 6 } } }, 0, 3, 1, merged), RangeError, /belongs to another job/)
})

test.run()
