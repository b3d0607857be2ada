/**
 * The plan of an epoch: which records this rank reads, in which order, before reading any.
 *
 * Three shapes, all pure functions of (shards, seed, epoch, rank, world):
 * - files: the epoch's shard order (permuted per epoch when shuffling) is dealt round-robin to
 *   ranks, whole shards each. Used when there are at least as many shards as ranks: no index
 *   is needed and every rank reads whole objects sequentially.
 * - records: with fewer shards than ranks, the epoch's record sequence (shards in epoch order,
 *   records in file order) is cut into `count` contiguous parts of equal size (±1). Contiguous
 *   rather than every count-th record: each rank then fetches only its own byte ranges instead
 *   of every block of every shard. Needs each shard's record index.
 * - global: one exact random permutation of all records of all shards, cut the same way; read
 *   by ranged reads through the indexes.
 * In every shape each record of the epoch goes to exactly one rank.
 */
import { UnsupportedOperationError } from '../../lib/index.js'
import type { ObjectInfo } from '../../lib/index.js'
import { Rng } from './random.js'
import type { RecordIndex } from './record-index.js'
import type { ByteRange } from './shard-reader.js'

export interface PlanItem {
  shard: ObjectInfo
  /** Records mode: file record numbers `[first, end)` of this part. */
  first?: number
  end?: number
  /** Records mode on an uncompressed shard: the byte range holding exactly those records. */
  bytes?: ByteRange
  /** Record count when known before reading (records mode). */
  count?: number
}

export interface SequentialPlan {
  kind: 'sequential'
  mode: 'files' | 'records'
  items: PlanItem[]
}

export interface GlobalPlan {
  kind: 'global'
  /** Shards in listed order, with their indexes. */
  shards: ObjectInfo[]
  indexes: RecordIndex[]
  /** First global record number of each shard (prefix sums), length shards + 1. */
  starts: Float64Array
  /** This rank's records, as global record numbers, in delivery order. */
  order: Uint32Array | Float64Array
}

export type Plan = SequentialPlan | GlobalPlan

export interface PlanSettings {
  seed: number | undefined
  shuffleShards: boolean
  epoch: number
  index: number
  count: number
}

/** Shard order of the epoch: listed order, or permuted by (seed, epoch). */
export function epochShardOrder(shards: readonly ObjectInfo[], s: PlanSettings): ObjectInfo[] {
  const order = [...shards]
  if (s.seed !== undefined && s.shuffleShards) new Rng(s.seed, s.epoch, 'shards').shuffle(order)
  return order
}

export function planFiles(shards: readonly ObjectInfo[], s: PlanSettings): SequentialPlan {
  const order = epochShardOrder(shards, s)
  return { kind: 'sequential', mode: 'files', items: order.filter((_, i) => i % s.count === s.index).map((shard) => ({ shard })) }
}

/** `[lo, hi)` of `total` items for rank `index` of `count`. */
export function rankSlice(total: number, index: number, count: number): [number, number] {
  return [Math.floor((index * total) / count), Math.floor(((index + 1) * total) / count)]
}

export function planRecords(shards: readonly ObjectInfo[], indexes: ReadonlyMap<string, RecordIndex>, s: PlanSettings): SequentialPlan {
  const order = epochShardOrder(shards, s)
  const total = order.reduce((sum, shard) => sum + indexes.get(shard.url)!.offsets.length, 0)
  const [lo, hi] = rankSlice(total, s.index, s.count)
  const items: PlanItem[] = []
  let start = 0
  for (const shard of order) {
    const index = indexes.get(shard.url)!
    const n = index.offsets.length
    const first = Math.max(lo, start) - start
    const end = Math.min(hi, start + n) - start
    if (first < end) {
      const item: PlanItem = { shard, first, end, count: end - first }
      if (index.compression === 'none') {
        item.bytes = { start: index.offsets[first]!, end: end < n ? index.offsets[end]! : index.size }
      }
      items.push(item)
    }
    start += n
  }
  return { kind: 'sequential', mode: 'records', items }
}

export function planGlobal(shards: readonly ObjectInfo[], indexes: ReadonlyMap<string, RecordIndex>, s: PlanSettings): GlobalPlan {
  const list = [...shards]
  const idx = list.map((shard) => indexes.get(shard.url)!)
  for (const index of idx) {
    if (index.compression !== 'none') throw new UnsupportedOperationError('global shuffle (ranged reads) of a compressed shard', index.url)
  }
  const starts = new Float64Array(list.length + 1)
  for (let i = 0; i < list.length; i++) starts[i + 1] = starts[i]! + idx[i]!.offsets.length
  const total = starts[list.length]!
  const all = total < 2 ** 32 ? new Uint32Array(total) : new Float64Array(total)
  for (let i = 0; i < total; i++) all[i] = i
  if (s.seed !== undefined) new Rng(s.seed, s.epoch, 'global').shuffle(all)
  const [lo, hi] = rankSlice(total, s.index, s.count)
  return { kind: 'global', shards: list, indexes: idx, starts, order: all.slice(lo, hi) }
}

/** Shard number holding global record `g` (binary search over `starts`). */
export function shardOf(starts: Float64Array, g: number): number {
  let lo = 0
  let hi = starts.length - 2
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= g) lo = mid
    else hi = mid - 1
  }
  return lo
}
