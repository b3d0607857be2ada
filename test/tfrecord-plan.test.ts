/**
 * The global-shuffle loader hands the reader its order as a read plan: over a disk tier half
 * the dataset, where the plan decides every eviction, each epoch still delivers every record
 * once; the plan follows the run (ended when it stops) and a resumed run plans from its
 * position. What the plan saves in bytes fetched depends on when fills land, so it is
 * measured over several runs by `node dist/bench/plan-loader.js`, not asserted here.
 * Real LMDB files in a temp directory, a MemorySource under a real BlockReader.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MemorySource, MiB, type PlannedRead, type PlanOptions, type ReadPlan } from '../lib/index.js'
import { seededRandom } from '../lib/testing/index.js'
import { tfrecords, type TFRecordOptions } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'

const PREFIX = 'mem://bucket/global/'
const SHARDS = 16

/** Sixteen shards of about 2 MiB (32 MiB), records of 1-5 KiB, each record naming itself. */
function dataset(): { source: MemorySource; names: string[] } {
  const source = new MemorySource('mem')
  const random = seededRandom(11)
  const names: string[] = []
  for (let s = 0; s < SHARDS; s++) {
    const records: Uint8Array[] = []
    for (let bytes = 0; bytes < 2 * MiB; ) {
      const name = `s${s}r${records.length}`
      const body = Buffer.alloc(1 * KiB + Math.floor(random() * 4 * KiB), s)
      body.write(`${name};`)
      records.push(body)
      names.push(name)
      bytes += body.length
    }
    source.put(`${PREFIX}shard-${s}.tfrecord`, encodeTFRecords(records))
  }
  return { source, names }
}

const nameOf = (record: unknown) => Buffer.from(record as Uint8Array).toString('latin1').split(';')[0]!

async function epoch(reader: BlockReader, epochNumber: number, options: TFRecordOptions = {}): Promise<string[]> {
  const out: string[] = []
  for await (const record of tfrecords(reader, PREFIX, { shuffle: { seed: 5, global: true }, epoch: epochNumber, ...options })) out.push(nameOf(record))
  return out
}

test('over a disk tier half the dataset, every epoch under the plan delivers every record once', async () => {
  const { source, names } = dataset()
  const dir = await mkdtemp(join(tmpdir(), 'sluice-tfrecord-plan-'))
  const reader = new BlockReader({ sources: [source], cacheDir: join(dir, 'cache'), blockSize: 128 * KiB, memory: { maxBytes: 0 }, disk: { maxBytes: 16 * MiB } })
  try {
    for (let e = 0; e < 2; e++) {
      const delivered = await epoch(reader, e)
      assert.equal([...delivered].sort(), [...names].sort(), `epoch ${e}: every record once`)
    }
    await reader.flush()
    const disk = reader.stats().tiers.find((t) => t.name === 'disk')!
    assert.ok(disk.evictions > 0, 'the tier was full: the plan chose victims')
    assert.ok(disk.usedBytes <= 16 * MiB, `the bound held: ${disk.usedBytes} bytes`)
  } finally {
    await reader.close()
    await rm(dir, { recursive: true, force: true })
  }
})

interface Captured {
  reads: PlannedRead[]
  options: PlanOptions | undefined
  plan: ReadPlan
}

/** Records every plan the reader is handed (a real plan is still made from the same reads). */
function capturePlans(reader: BlockReader): Captured[] {
  const plans: Captured[] = []
  const plan = reader.plan.bind(reader)
  reader.plan = (reads, options) => {
    const list = [...reads]
    const made = plan(list, options)
    plans.push({ reads: list, options, plan: made })
    return made
  }
  return plans
}

test('the run hands the reader its reads from the resumed position and ends the plan when it stops', async () => {
  const { source } = dataset()
  const reader = new BlockReader({ sources: [source], blockSize: 16 * KiB })
  const plans = capturePlans(reader)
  try {
    const ds = tfrecords(reader, PREFIX, { shuffle: { seed: 5, global: true } })
    let taken = 0
    let state
    for await (const record of ds) {
      assert.ok(record instanceof Uint8Array)
      if (++taken === 10) {
        state = ds.state()
        break
      }
    }
    assert.is(plans.length, 1)
    const whole = plans[0]!
    assert.ok(whole.plan.ended, 'the plan ended with the run')
    assert.ok(whole.plan.position >= 10, `advanced past the records read (${whole.plan.position})`)
    const resumed = tfrecords(reader, PREFIX, { shuffle: { seed: 5, global: true }, resume: state })
    const rest: string[] = []
    for await (const record of resumed) rest.push(nameOf(record))
    assert.is(plans.length, 2)
    assert.is(plans[1]!.reads.length, whole.reads.length - 10, 'the resumed plan starts at the resumed position')
    assert.equal(plans[1]!.reads[0], whole.reads[10])
    assert.is(plans[1]!.plan.position, plans[1]!.reads.length, 'advanced once per record to the end')
    assert.is(rest.length, whole.reads.length - 10)
  } finally {
    await reader.close()
  }
})

test('with ranksPerNode, each rank of a node hands the node\'s reads round by round, with its share', async () => {
  const { source } = dataset()
  const global = { seed: 5, global: true }
  /** The plans each of four ranks hands its reader, for the given readAhead.plan. */
  const plansOf = async (plan: TFRecordOptions['readAhead']): Promise<Captured[]> => {
    const out: Captured[] = []
    for (let rank = 0; rank < 4; rank++) {
      const reader = new BlockReader({ sources: [source], blockSize: 16 * KiB })
      const plans = capturePlans(reader)
      try {
        let n = 0
        for await (const record of tfrecords(reader, PREFIX, { shuffle: global, shard: { index: rank, count: 4 }, readAhead: plan })) if (record) n++
        assert.ok(n > 0)
      } finally {
        await reader.close()
      }
      assert.is(plans.length, 1)
      out.push(plans[0]!)
    }
    return out
  }
  const own = await plansOf(undefined)
  const node = await plansOf({ plan: { ranksPerNode: 2 } })
  for (let rank = 0; rank < 4; rank++) {
    assert.is(own[rank]!.options?.share, undefined, 'one rank: no share')
    assert.equal(node[rank]!.options?.share, { index: rank % 2, count: 2 }, `rank ${rank}: its share of its node`)
    const first = rank - (rank % 2)
    const [a, b] = [own[first]!.reads, own[first + 1]!.reads]
    const rounds: PlannedRead[] = []
    for (let k = 0; k < Math.max(a.length, b.length); k++) for (const part of [a, b]) if (k < part.length) rounds.push(part[k]!)
    assert.equal(node[rank]!.reads, rounds, `rank ${rank}: ranks ${first} and ${first + 1} round by round`)
    assert.ok(node[rank]!.plan.ended, 'ended with the run')
    assert.ok(node[rank]!.plan.position >= node[rank]!.reads.length - 1, `advanced through the node's rounds (${node[rank]!.plan.position} of ${node[rank]!.reads.length})`)
  }
})

test.run()
