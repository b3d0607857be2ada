/**
 * Pieces of an epoch's sequence: how a rank's part of an epoch, and what remains of an epoch
 * across a whole job, are written down without naming records one by one.
 *
 * The epoch's sequence is the order one rank alone reads an epoch in, before any shuffle
 * buffer: the shards in the epoch's shard order, each shard's records in file order; in
 * global-shuffle mode it is the epoch's permutation, taken as one stream numbered 0. A piece
 * `[k, first, end]` is the records `[first, end)` of stream `k` (the k-th shard of the epoch's
 * order); `end` is null for "to the shard's end" where the record count is not known, which is
 * how files mode describes whole shards without an index. Parts and remainders are lists of
 * pieces sorted by (k, first); consecutive pieces of one shard make one plan item, read in one
 * pass. Everything here is pure, so merging the states of a job needs no I/O.
 */

/** Record numbers `[first, end)` of one shard; `end` null: to the shard's end. */
export type RecordRange = [first: number, end: number | null]

/** Records `[first, end)` of the k-th shard of the epoch's order (or of the permutation, k = 0). */
export type Piece = [k: number, first: number, end: number | null]

/** The consecutive pieces of one shard. */
export interface PieceGroup {
  k: number
  ranges: RecordRange[]
}

/** The whole sequence of an epoch with `shards` shards: every shard to its end. */
export function wholeSequence(shards: number): Piece[] {
  return Array.from({ length: shards }, (_, k): Piece => [k, 0, null])
}

export function groupPieces(pieces: readonly Piece[]): PieceGroup[] {
  const out: PieceGroup[] = []
  for (const [k, first, end] of pieces) {
    const last = out[out.length - 1]
    if (last !== undefined && last.k === k) last.ranges.push([first, end])
    else out.push({ k, ranges: [[first, end]] })
  }
  return out
}

export function piecesOf(groups: readonly PieceGroup[]): Piece[] {
  return groups.flatMap((g) => g.ranges.map(([first, end]): Piece => [g.k, first, end]))
}

/** Records in `ranges`, or undefined when one of them runs to an unknown end. */
export function rangesLength(ranges: readonly RecordRange[]): number | undefined {
  let n = 0
  for (const [first, end] of ranges) {
    if (end === null) return undefined
    n += end - first
  }
  return n
}

/** The sum of the pieces' lengths; all must be closed. */
export function piecesLength(pieces: readonly Piece[]): number {
  return pieces.reduce((n, [, first, end]) => n + end! - first, 0)
}

/**
 * `pieces` sorted by (k, first), empty ones dropped, touching ones joined. Throws RangeError
 * if two overlap: a record would be owed twice.
 */
export function normalizePieces(pieces: readonly Piece[]): Piece[] {
  const sorted = pieces.filter(([, first, end]) => end === null || end > first).sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const out: Piece[] = []
  for (const p of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && last[0] === p[0]) {
      if (last[2] === null || last[2] > p[1]) throw new RangeError(`pieces ${JSON.stringify(last)} and ${JSON.stringify(p)} overlap`)
      if (last[2] === p[1]) {
        last[2] = p[2]
        continue
      }
    }
    out.push([p[0], p[1], p[2]])
  }
  return out
}

/** True if `pieces` are sorted by (k, first) and no two overlap. */
export function isSortedDisjoint(pieces: readonly Piece[]): boolean {
  for (let i = 1; i < pieces.length; i++) {
    const [k0, , end0] = pieces[i - 1]!
    const [k1, first1] = pieces[i]!
    if (k1 < k0 || (k1 === k0 && (end0 === null || end0 > first1))) return false
  }
  return true
}

/** The pieces holding positions `[lo, hi)` of the concatenation of `pieces` (all closed). */
export function slicePieces(pieces: readonly Piece[], lo: number, hi: number): Piece[] {
  const out: Piece[] = []
  let start = 0
  for (const [k, first, end] of pieces) {
    if (start >= hi) break
    const n = end! - first
    const a = Math.max(lo, start) - start
    const b = Math.min(hi, start + n) - start
    if (a < b) out.push([k, first + a, first + b])
    start += n
  }
  return out
}

/**
 * Picks, from one shard's records as they are read, those whose record numbers are in
 * `ranges` (sorted). `start` is the number of the first record read: 0 when reading from the
 * shard's start, the first range's start when reading from its byte offset.
 */
export class RecordSelector {
  private r = 0
  private next: number

  constructor(
    private readonly ranges: readonly RecordRange[],
    start: number,
  ) {
    this.next = start
  }

  /** True once the last range has ended: the rest of the shard is not wanted. */
  get done(): boolean {
    return this.r >= this.ranges.length
  }

  /** The wanted records of the next batch read (the batch itself when all of it is wanted). */
  select(records: Uint8Array[]): Uint8Array[] {
    const lo = this.next
    const hi = (this.next += records.length)
    let out: Uint8Array[] | undefined
    while (this.r < this.ranges.length) {
      const [first, e] = this.ranges[this.r]!
      const end = e ?? Number.POSITIVE_INFINITY
      if (first >= hi) break
      const a = Math.max(first, lo)
      const b = Math.min(end, hi)
      if (a === lo && b === hi && out === undefined) {
        if (end === hi) this.r++
        return records
      }
      if (a < b) {
        out ??= []
        for (let i = a; i < b; i++) out.push(records[i - lo]!)
      }
      if (end > hi) break
      this.r++
    }
    return out ?? []
  }
}
