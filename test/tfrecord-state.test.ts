/**
 * The resume state as a dataset reports it (loaders/tfrecord/state.ts, run.ts), over shards in
 * s3rver on loopback read by a real BlockReader.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MiB, S3Source } from '../lib/index.js'
import { FaultySource } from '../lib/testing/index.js'
import { tfrecords, type TFRecordOptions, type TFRecordState } from '../loaders/tfrecord/index.js'
import { startTestS3, type TestS3 } from './support/s3.js'
import { putShards, s3Reader } from './support/s3-shards.js'
import { label } from './support/tfrecord-shards.js'

const BUCKET = 'states'
const PLAIN = `s3://${BUCKET}/plain/`

const test = suite('tfrecord: resume states')
let s3: TestS3
let all: string[]

test.before(async () => {
  s3 = await startTestS3([BUCKET])
  all = await putShards(s3, BUCKET, 'plain/', [{ records: 37 }, { records: 26 }, { records: 44 }])
})

test.after(() => s3.close())

/** Reads up to `cut` records; their labels and the state after them, through JSON. */
async function readUpTo(reader: BlockReader, options: TFRecordOptions, cut: number): Promise<{ labels: string[]; state: TFRecordState }> {
  const ds = tfrecords(reader, PLAIN, options)
  const labels: string[] = []
  for await (const r of ds) {
    labels.push(label(r))
    if (labels.length >= cut) break
  }
  return { labels, state: JSON.parse(JSON.stringify(ds.state())) as TFRecordState }
}

test('while a resumed run is still planning, its state is the state it was given', async () => {
  const options: TFRecordOptions = { shuffle: { seed: 7, global: true } }
  const plain = s3Reader(s3)
  const { labels: whole } = await readUpTo(plain, options, Number.POSITIVE_INFINITY)
  const { state } = await readUpTo(plain, options, 10)
  await plain.close()
  assert.equal([...whole].sort(), [...all].sort())
  // A fresh reader has no record index yet: planning reads the shards, and those reads are held.
  const faults = new FaultySource(new S3Source(s3.server.s3))
  faults.setFaults([{ kind: 'stall' }])
  const reader = new BlockReader({ blockSize: 4 * KiB, memory: { maxBytes: 16 * MiB }, sources: [faults] })
  try {
    const ds = tfrecords(reader, PLAIN, { ...options, resume: state })
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
    await reader.close()
  }
})

test.run()
