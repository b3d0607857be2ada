/**
 * The plan of an epoch: which records this rank reads, in which order, before reading any.
 *
 * Every plan is a part of the epoch's sequence (pieces.ts): the shards in the epoch's order
 * (permuted per epoch when shuffling), records in file order; or, in global-shuffle mode, one
 * exact random permutation of all records. That sequence is a pure function of (shards, seed,
 * epoch), never of the world size; the world size only decides how it is partitioned, and a
 * resumed job partitions what remains of it (elastic.ts) by the same rules:
 * - files: the sequence's shards (whole, or what remains of them) are dealt round-robin to
 *   ranks. Used when there are at least as many shards as ranks: no index is needed and every
 *   rank reads whole objects sequentially.
 * - records: with fewer shards than ranks, the sequence is cut into `count` contiguous parts of
 *   equal size (±1). Contiguous rather than every count-th record: each rank then fetches only
 *   its own byte ranges instead of every block of every shard. Needs each shard's record index.
 * - global: the permutation is cut the same way; read by ranged reads through the indexes.
 * In every shape each record of the epoch goes to exactly one rank.
 */
import { UnsupportedOperationError } from '../../lib/index.js'
import type { ObjectInfo } from '../../lib/index.js'
import { groupPieces, piecesLength, piecesOf, rangesLength, slicePieces, type Piece, type RecordRange } from './pieces.js'
import { Rng } from './random.js'
import type { RecordIndex } from './record-index.js'
import type { ByteRange } from './shard-reader.js'

export interface PlanItem {
  shard: ObjectInfo
  /** The shard's records this item reads (file record numbers, sorted). */
  ranges: RecordRange[]
  /** On an uncompressed shard with a known index: the bytes from the first range's start to the last one's end. */
  bytes?: ByteRange
  /** Record count when known before reading. */
  count?: number
}

export interface SequentialPlan {
  kind: 'sequential'
  mode: 'files' | 'records'
  items: PlanItem[]
  /** This rank's part of the epoch's sequence. */
  part: Piece[]
}

/** The epoch's permutation and what locates its records. */
export interface GlobalSequence {
  /** Shards in listed order, with their indexes. */
  shards: ObjectInfo[]
  indexes: RecordIndex[]
  /** First global record number of each shard (prefix sums), length shards + 1. */
  starts: Float64Array
  /** Every global record number, in the epoch's order. */
  permutation: Uint32Array | Float64Array
}

export interface GlobalPlan extends Omit<GlobalSequence, 'permutation'> {
  kind: 'global'
  /** This rank's records, as global record numbers, in delivery order. */
  order: Uint32Array | Float64Array
  /** This rank's part of the permutation (stream 0). */
  part: Piece[]
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

/** `[lo, hi)` of `total` items for rank `index` of `count`. */
export function rankSlice(total: number, index: number, count: number): [number, number] {
  return [Math.floor((index * total) / count), Math.floor(((index + 1) * total) / count)]
}

/** Files mode: the shards of `pieces` dealt round-robin, this rank's. */
export function dealShards(pieces: readonly Piece[], s: PlanSettings): Piece[] {
  return piecesOf(groupPieces(pieces).filter((_, g) => g % s.count === s.index))
}

/** Records and global modes: this rank's contiguous part of `pieces` (all closed). */
export function cutRecords(pieces: readonly Piece[], s: PlanSettings): Piece[] {
  const [lo, hi] = rankSlice(piecesLength(pieces), s.index, s.count)
  return slicePieces(pieces, lo, hi)
}

/** `pieces` with every end known from the shards' indexes. Throws RangeError for records a shard does not have. */
export function closeEnds(pieces: readonly Piece[], order: readonly ObjectInfo[], indexes: ReadonlyMap<string, RecordIndex>): Piece[] {
  return pieces.map(([k, first, end]): Piece => {
    const n = indexes.get(shardAt(order, k).url)!.offsets.length
    if (first > n || (end ?? n) > n) throw new RangeError(`tfrecords: resume state names records up to ${end ?? first} of ${order[k]!.url}, which has ${n}`)
    return [k, first, end ?? n]
  })
}

/** The shards `pieces` name, in listed order. */
export function shardsOf(pieces: readonly Piece[], order: readonly ObjectInfo[], listed: readonly ObjectInfo[]): ObjectInfo[] {
  const urls = new Set(pieces.map(([k]) => shardAt(order, k).url))
  return listed.filter((s) => urls.has(s.url))
}

/** The plan reading `part`; with indexes, items know their counts and, uncompressed, their bytes. */
export function planSequential(
  order: readonly ObjectInfo[],
  part: Piece[],
  mode: 'files' | 'records',
  indexes?: ReadonlyMap<string, RecordIndex>,
): SequentialPlan {
  const items = groupPieces(part).map(({ k, ranges }): PlanItem => {
    const shard = shardAt(order, k)
    const item: PlanItem = { shard, ranges }
    const count = rangesLength(ranges)
    if (count !== undefined) item.count = count
    const index = indexes?.get(shard.url)
    if (index !== undefined && index.compression === 'none' && count !== undefined) {
      const n = index.offsets.length
      const at = (i: number): number => (i < n ? index.offsets[i]! : index.size)
      item.bytes = { start: at(ranges[0]![0]), end: at(ranges[ranges.length - 1]![1]!) }
    }
    return item
  })
  return { kind: 'sequential', mode, items, part }
}

/** The epoch's permutation of every record of `shards` (indexes in the same order). */
export function globalSequence(shards: readonly ObjectInfo[], indexes: ReadonlyMap<string, RecordIndex>, s: PlanSettings): GlobalSequence {
  const list = [...shards]
  const idx = list.map((shard) => indexes.get(shard.url)!)
  for (const index of idx) {
    if (index.compression !== 'none') throw new UnsupportedOperationError('global shuffle (ranged reads) of a compressed shard', index.url)
  }
  const starts = new Float64Array(list.length + 1)
  for (let i = 0; i < list.length; i++) starts[i + 1] = starts[i]! + idx[i]!.offsets.length
  const total = starts[list.length]!
  const permutation = total < 2 ** 32 ? new Uint32Array(total) : new Float64Array(total)
  for (let i = 0; i < total; i++) permutation[i] = i
  if (s.seed !== undefined) new Rng(s.seed, s.epoch, 'global').shuffle(permutation)
  return { shards: list, indexes: idx, starts, permutation }
}

/** The plan reading `part` (pieces of stream 0, closed) of the permutation. Throws RangeError past its end. */
export function planGlobal(seq: GlobalSequence, part: Piece[]): GlobalPlan {
  const { permutation, ...located } = seq
  const order = permutation instanceof Uint32Array ? new Uint32Array(piecesLength(part)) : new Float64Array(piecesLength(part))
  let at = 0
  for (const [k, first, end] of part) {
    if (k !== 0 || end === null || end > permutation.length) throw new RangeError(`tfrecords: resume state names positions up to ${end} of a permutation of ${permutation.length}`)
    order.set(permutation.subarray(first, end), at)
    at += end - first
  }
  return { kind: 'global', ...located, order, part }
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

function shardAt(order: readonly ObjectInfo[], k: number): ObjectInfo {
  const shard = order[k]
  if (shard === undefined) throw new RangeError(`tfrecords: resume state names shard ${k} of an epoch of ${order.length} shards`)
  return shard
}
