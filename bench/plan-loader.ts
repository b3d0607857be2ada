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
 * With PLAN_RANKS above 1, that many ranks (each its own BlockReader, in this process) read
 * their parts at once over one disk tier, as ranks of a node do, and a third variant hands
 * each the node's plan (`readAhead.plan: { ranksPerNode }`) instead of its own.
 *
 * Env: PLAN_RUNS (5), PLAN_SHARDS (16), PLAN_SHARD_MB (2), PLAN_BLOCK_KB (128),
 * PLAN_DISK_MB (16), PLAN_RECORDS_IN_FLIGHT (32: the loader's readAhead.records), PLAN_RANKS (1).
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
const RANKS = Number(process.env.PLAN_RANKS ?? 1)
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

type Variant = 'plan' | 'noPlan' | 'nodePlan'
const PLAN: Record<Variant, boolean | { ranksPerNode: number }> = { plan: true, noPlan: false, nodePlan: { ranksPerNode: RANKS } }

/** MiB fetched from the source in each epoch, all ranks together. */
async function run(variant: Variant): Promise<number[]> {
  const source = dataset()
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-plan-loader-'))
  const readers = Array.from({ length: RANKS }, () => new BlockReader({ sources: [source], cacheDir: join(dir, 'cache'), blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { maxBytes: DISK } }))
  try {
    const fetched: number[] = []
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      const before = source.bytesRead
      await Promise.all(
        readers.map(async (reader, index) => {
          const options = { shuffle: { seed: 5, global: true }, epoch, shard: { index, count: RANKS }, readAhead: { plan: PLAN[variant], records: IN_FLIGHT } }
          for await (const record of tfrecords(reader, PREFIX, options)) void record
        }),
      )
      for (const reader of readers) await reader.flush()
      fetched.push((source.bytesRead - before) / MiB)
    }
    return fetched
  } finally {
    for (const reader of readers) await reader.close()
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`plan-loader bench: ${SHARDS} shards of ${SHARD_BYTES / MiB} MiB, blocks of ${BLOCK / KiB} KiB, disk tier ${DISK / MiB} MiB, no memory tier, ${RANKS} rank(s), ${IN_FLIGHT} records in flight, ${RUNS} runs`)
const variants: Variant[] = RANKS > 1 ? ['plan', 'nodePlan', 'noPlan'] : ['plan', 'noPlan']
const later: Partial<Record<Variant, number[]>> = {}
const first: Partial<Record<Variant, number[]>> = {}
for (let r = 0; r < RUNS; r++) {
  for (const variant of variants) {
    const perEpoch = await run(variant)
    ;(first[variant] ??= []).push(perEpoch[0]!)
    ;(later[variant] ??= []).push(perEpoch[1]! + perEpoch[2]!)
    console.log(`  run ${r + 1} ${variant.padEnd(8)} MiB fetched per epoch ${perEpoch.map((m) => m.toFixed(0)).join(' ')}`)
  }
}
const medians = Object.fromEntries(variants.map((v) => [v, { epoch1: median(first[v]!), epochs2to3: median(later[v]!) }]))
for (const v of variants) console.log(`${v.padEnd(8)} median MiB fetched: epoch 1 ${medians[v]!.epoch1.toFixed(0)}, epochs 2-3 ${medians[v]!.epochs2to3.toFixed(0)} (runs ${later[v]!.map((m) => m.toFixed(0)).join(' ')})`)
console.log(JSON.stringify({ bench: 'plan-loader', shards: SHARDS, shardBytes: SHARD_BYTES, blockBytes: BLOCK, diskBytes: DISK, ranks: RANKS, recordsInFlight: IN_FLIGHT, firstEpochMiB: first, laterEpochsMiB: later, medians }))
