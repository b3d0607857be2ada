/**
 * The read plan through the TFRecord loader (`node dist/bench/plan-loader.js`): a global
 * shuffle of a dataset twice the disk tier, three epochs, read by `tfrecords()` with its
 * default `readAhead.plan` (the reader gets each epoch's order) and with `plan: false` (the
 * tiers' own policies). The figure is MiB fetched from the source per epoch; epochs 2 and 3
 * are the ones a cache is for. Unlike bench/plan-cache.ts, which reads one record at a time
 * and waits for every fill (so its counts are exact and comparable with the offline optimum),
 * here fills land behind the reads and reads overlap, as in training, so the counts vary from
 * run to run: the bench repeats and prints each run and the medians.
 *
 * Env: PLAN_RUNS (5), PLAN_SHARDS (16), PLAN_SHARD_MB (2), PLAN_BLOCK_KB (128),
 * PLAN_DISK_MB (16), PLAN_RECORDS_IN_FLIGHT (32: the loader's readAhead.records).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, KiB, MemorySource, MiB } from '../lib/index.js'
import { seededRandom } from '../lib/testing/index.js'
import { tfrecords } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { median } from './support/plain-reads.js'

const RUNS = Number(process.env.PLAN_RUNS ?? 5)
const SHARDS = Number(process.env.PLAN_SHARDS ?? 16)
const SHARD_BYTES = Number(process.env.PLAN_SHARD_MB ?? 2) * MiB
const BLOCK = Number(process.env.PLAN_BLOCK_KB ?? 128) * KiB
const DISK = Number(process.env.PLAN_DISK_MB ?? 16) * MiB
const IN_FLIGHT = Number(process.env.PLAN_RECORDS_IN_FLIGHT ?? 32)
const EPOCHS = 3
const PREFIX = 'mem://bench/global/'

/** Shards of records of 1-5 KiB (about 40 to a 128 KiB block). */
function dataset(): MemorySource {
  const source = new MemorySource('mem')
  const random = seededRandom(11)
  for (let s = 0; s < SHARDS; s++) {
    const records: Uint8Array[] = []
    for (let bytes = 0; bytes < SHARD_BYTES - 16 * KiB; ) {
      const body = Buffer.alloc(1 * KiB + Math.floor(random() * 4 * KiB), s)
      records.push(body)
      bytes += body.length + 16
    }
    source.put(`${PREFIX}shard-${s}.tfrecord`, encodeTFRecords(records))
  }
  return source
}

/** MiB fetched from the source in each epoch. */
async function run(plan: boolean): Promise<number[]> {
  const source = dataset()
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-plan-loader-'))
  const reader = new BlockReader({ sources: [source], cacheDir: join(dir, 'cache'), blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { maxBytes: DISK } })
  try {
    const fetched: number[] = []
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const before = source.bytesRead
      for await (const record of tfrecords(reader, PREFIX, { shuffle: { seed: 5, global: true }, epoch, readAhead: { plan, records: IN_FLIGHT } })) void record
      await reader.flush()
      fetched.push((source.bytesRead - before) / MiB)
    }
    return fetched
  } finally {
    await reader.close()
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`plan-loader bench: ${SHARDS} shards of ${SHARD_BYTES / MiB} MiB, blocks of ${BLOCK / KiB} KiB, disk tier ${DISK / MiB} MiB, no memory tier, ${IN_FLIGHT} records in flight, ${RUNS} runs`)
const later: Record<string, number[]> = { plan: [], noPlan: [] }
for (let r = 0; r < RUNS; r++) {
  for (const [name, plan] of [['plan', true], ['noPlan', false]] as const) {
    const perEpoch = await run(plan)
    later[name]!.push(perEpoch[1]! + perEpoch[2]!)
    console.log(`  run ${r + 1} ${name.padEnd(6)} MiB fetched per epoch ${perEpoch.map((m) => m.toFixed(0)).join(' ')}`)
  }
}
const summary = { plan: median(later.plan!), noPlan: median(later.noPlan!) }
console.log(`epochs 2-3, median MiB fetched: plan ${summary.plan.toFixed(0)} (runs ${later.plan!.map((m) => m.toFixed(0)).join(' ')}), no plan ${summary.noPlan.toFixed(0)} (runs ${later.noPlan!.map((m) => m.toFixed(0)).join(' ')}); ratio ${(summary.plan / summary.noPlan).toFixed(2)}`)
console.log(JSON.stringify({ bench: 'plan-loader', shards: SHARDS, shardBytes: SHARD_BYTES, blockBytes: BLOCK, diskBytes: DISK, recordsInFlight: IN_FLIGHT, laterEpochsMiB: later, medians: summary }))
