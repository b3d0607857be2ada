/**
 * What a read plan buys the cache (`node dist/bench/plan-cache.js`): a global-shuffle epoch
 * over a dataset twice the disk tier, then a second one in a new order, read record by
 * record with ranged reads through one BlockReader, and the bytes fetched from the source in
 * each epoch for
 *
 * - current: no plan (the disk tier's own admission and eviction, read-ahead by pattern);
 * - plan: the two epochs' reads handed to the reader before the first read
 *   (`reader.plan(epoch 1)`, then `plan.extend(epoch 2)`), advanced after each read;
 * - plan, no prefetch: the same with `prefetch.maxReadAheadBytes: 0`, so the tier's
 *   eviction alone shows (the gap to `plan` is what fetching ahead costs);
 * - optimum: Belady's offline rule on the same block sequence and the same capacity,
 *   computed here (the fewest fetches any cache of that size can make).
 *
 * The order is the TFRecord loader's global shuffle (`planGlobal`, seeded) over record
 * ranges of varying length. There is no memory tier, so the disk tier alone is compared with
 * the optimum at its capacity. Every read waits for the plan's prefetch and the disk fills
 * to settle before the next (`plan.idle()`, `reader.flush()`), which makes the figures
 * counts, deterministic, not timings. It prints its configuration, a table, then one JSON
 * line. Env: PLAN_BENCH_SEED (default 7).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BlockReader, KiB, MiB, type ObjectHandle, type ObjectInfo, type PlannedRead } from '../lib/index.js'
import { MemorySource, seededRandom } from '../lib/testing/index.js'
import { chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { FRAME_OVERHEAD } from '../loaders/tfrecord/framing.js'
import { globalSequence, planGlobal, shardOf } from '../loaders/tfrecord/plan.js'
import type { RecordIndex } from '../loaders/tfrecord/record-index.js'

export interface PlanBenchConfig {
  blockSize: number
  diskBytes: number
  shards: number
  shardBytes: number
  /** Record lengths are drawn uniformly from [minRecordBytes, maxRecordBytes]. */
  minRecordBytes: number
  maxRecordBytes: number
  seed: number
}

export const DEFAULT_CONFIG: PlanBenchConfig = {
  blockSize: 256 * KiB,
  diskBytes: 64 * MiB,
  shards: 16,
  shardBytes: 8 * MiB,
  minRecordBytes: 2 * KiB,
  maxRecordBytes: 10 * KiB,
  seed: Number(process.env.PLAN_BENCH_SEED ?? 7),
}

/** A dataset of shards cut into records, and each epoch's reads in global-shuffle order. */
export interface PlanBenchData {
  source: MemorySource
  shards: ObjectInfo[]
  epochs: PlannedRead[][]
}

export function dataset(c: PlanBenchConfig, epochs = 2): PlanBenchData {
  const source = new MemorySource('mem')
  const random = seededRandom(c.seed)
  const shards: ObjectInfo[] = []
  const indexes = new Map<string, RecordIndex>()
  for (let s = 0; s < c.shards; s++) {
    const url = `mem://plan-bench/shard-${String(s).padStart(3, '0')}`
    const info = source.put(url, Buffer.alloc(c.shardBytes, s), { mtimeMs: 0 })
    const offsets: number[] = []
    for (let at = 0; at < c.shardBytes; at += c.minRecordBytes + Math.floor(random() * (c.maxRecordBytes - c.minRecordBytes + 1))) offsets.push(at)
    const lengths = offsets.map((at, i) => (offsets[i + 1] ?? c.shardBytes) - at - FRAME_OVERHEAD)
    shards.push(info)
    indexes.set(url, { url, version: info.version, size: c.shardBytes, compression: 'none', offsets: Float64Array.from(offsets), lengths: Float64Array.from(lengths) })
  }
  const orders = Array.from({ length: epochs }, (_, epoch) => {
    const seq = globalSequence(shards, indexes, { seed: c.seed, shuffleShards: true, epoch, index: 0, count: 1 })
    return planGlobal(seq, [[0, 0, seq.permutation.length]]) // one rank: the whole permutation
  })
  return {
    source,
    shards,
    epochs: orders.map((plan) =>
      // The reads a loader hands the reader for a global shuffle (docs/design.md, Read plans).
      Array.from(plan.order, (g): PlannedRead => {
        const s = shardOf(plan.starts, g)
        const index = plan.indexes[s]!
        const r = g - plan.starts[s]!
        const start = index.offsets[r]!
        return { object: plan.shards[s]!, start, end: start + FRAME_OVERHEAD + index.lengths[r]! }
      }),
    ),
  }
}

/** Blocks of the disk tier's bound. */
export function capacityBlocks(c: PlanBenchConfig): number {
  return Math.floor(c.diskBytes / chargedBytes(c.blockSize))
}

export type Variant = 'current' | 'plan' | 'planNoPrefetch'

/**
 * Bytes fetched from the source per epoch, reading every epoch's records in order through
 * one reader with a disk tier in `cacheDir`; with a plan variant, the reads are planned first.
 */
export async function fetchedPerEpoch(c: PlanBenchConfig, data: PlanBenchData, cacheDir: string, variant: Variant): Promise<number[]> {
  const plan = variant !== 'current'
  const prefetch = variant === 'planNoPrefetch' ? { maxReadAheadBytes: 0 } : {}
  const reader = new BlockReader({ sources: [data.source], cacheDir, blockSize: c.blockSize, memory: { maxBytes: 0 }, disk: { maxBytes: c.diskBytes }, prefetch })
  try {
    const handles = new Map<ObjectInfo, ObjectHandle>()
    for (const info of data.shards) handles.set(info, await reader.open(info))
    const readPlan = plan ? reader.plan(data.epochs[0]!) : undefined
    for (const epoch of data.epochs.slice(1)) readPlan?.extend(epoch)
    const fetched: number[] = []
    for (const epoch of data.epochs) {
      const before = data.source.bytesRead
      for (const read of epoch) {
        await handles.get(read.object)!.read(read.start, read.end - read.start)
        readPlan?.advance()
        await readPlan?.idle()
        await reader.flush()
      }
      fetched.push(data.source.bytesRead - before)
    }
    return fetched
  } finally {
    await reader.close()
  }
}

/**
 * Belady's offline optimum on the epochs' block sequence: a miss fetches the block; a full
 * cache evicts the block read furthest ahead, or skips keeping the new one when it is read
 * later still. Bytes fetched per epoch.
 */
export function optimumPerEpoch(c: PlanBenchConfig, data: PlanBenchData): number[] {
  const ids = new Map<ObjectInfo, number>(data.shards.map((s, i) => [s, i]))
  const perShard = Math.ceil(c.shardBytes / c.blockSize)
  const sequence: number[] = []
  const epochOf: number[] = []
  data.epochs.forEach((epoch, e) => {
    for (const read of epoch) {
      const base = ids.get(read.object)! * perShard
      for (let b = Math.floor(read.start / c.blockSize); b < Math.ceil(read.end / c.blockSize); b++) {
        if (sequence.length > 0 && sequence[sequence.length - 1] === base + b && epochOf[epochOf.length - 1] === e) continue
        sequence.push(base + b)
        epochOf.push(e)
      }
    }
  })
  const next = new Array<number>(sequence.length)
  const seen = new Map<number, number>()
  for (let i = sequence.length - 1; i >= 0; i--) {
    next[i] = seen.get(sequence[i]!) ?? Infinity
    seen.set(sequence[i]!, i)
  }
  const capacity = capacityBlocks(c)
  const held = new Map<number, number>() // block -> next use
  const fetched = data.epochs.map(() => 0)
  sequence.forEach((block, i) => {
    if (!held.has(block)) {
      fetched[epochOf[i]!]! += c.blockSize
      if (held.size >= capacity) {
        let victim = -1
        let furthest = -1
        for (const [b, use] of held) if (use > furthest) [victim, furthest] = [b, use]
        if (furthest <= next[i]!) return // kept out: read later than everything held
        held.delete(victim)
      }
    }
    held.set(block, next[i]!)
  })
  return fetched
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()

async function main(): Promise<void> {
  const c = DEFAULT_CONFIG
  const data = dataset(c)
  const datasetBytes = c.shards * c.shardBytes
  console.log(
    `plan-cache bench: ${c.shards} shards of ${c.shardBytes / MiB} MiB (${datasetBytes / MiB} MiB), records of ${c.minRecordBytes / KiB}-${c.maxRecordBytes / KiB} KiB ` +
      `(${data.epochs[0]!.length} per epoch), blocks of ${c.blockSize / KiB} KiB, disk tier ${c.diskBytes / MiB} MiB (${capacityBlocks(c)} blocks), no memory tier, ` +
      `global shuffle seed ${c.seed}, 2 epochs`,
  )
  const root = await mkdtemp(join(tmpdir(), 'sluice-plan-bench-'))
  const fetched: Record<string, number[]> = {}
  try {
    for (const variant of ['current', 'plan', 'planNoPrefetch'] as const) fetched[variant] = await fetchedPerEpoch(c, data, await mkdtemp(join(root, `${variant}-`)), variant)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
  const optimum = (fetched.optimum = optimumPerEpoch(c, data))
  const mib = (b: number) => Math.round((b / MiB) * 10) / 10
  const ratio = (name: string) => Math.round((fetched[name]![1]! / optimum[1]!) * 100) / 100
  console.log('MiB fetched from the source: epoch 1, epoch 2 (epoch 2 over the optimum)')
  for (const [name, f] of Object.entries(fetched)) console.log(`  ${name.padEnd(15)} ${f.map(mib).join(', ')} (${ratio(name)})`)
  console.log(
    JSON.stringify({
      bench: 'plan-cache',
      config: { ...c, datasetBytes, capacityBlocks: capacityBlocks(c), recordsPerEpoch: data.epochs[0]!.length },
      fetchedMiB: Object.fromEntries(Object.entries(fetched).map(([name, f]) => [name, f.map(mib)])),
      epoch2OverOptimum: Object.fromEntries(Object.keys(fetched).map((name) => [name, ratio(name)])),
    }),
  )
}
