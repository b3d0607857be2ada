/**
 * Resuming an epoch at another world size: which records a job still owes, from the states of
 * all its ranks, as one state any number of ranks can resume from.
 *
 * Each rank's state names its part of the epoch's sequence (pieces.ts) and its progress: the
 * records delivered, and the record counts of the items its reader finished. The shuffle
 * buffer's picks depend on those counts only (shuffle-buffer.ts), so replaying them tells
 * which records were still in the buffer and which were never pulled: the rank's remainder,
 * as pieces. The remainders of all ranks, sorted into the sequence's order, are what the job
 * owes. {@link mergeStates} writes that down as the state of one rank of a world of one that
 * has delivered nothing of it; resuming it at M ranks partitions the remainder by the plan's
 * rules (plan.ts). Records drawn into a buffer but not delivered are in the remainder, so no
 * record is lost or delivered twice; the order after the resume is the remainder's, not the
 * one an uninterrupted run would have used.
 *
 * All of it is pure: every new rank can merge the same states and get the same result.
 */
import { groupPieces, normalizePieces, rangesLength, type Piece, type PieceGroup } from './pieces.js'
import { Rng } from './random.js'
import { replayShuffle } from './shuffle-buffer.js'
import { checkStateShape, partFingerprint, remainderId, type TFRecordElastic, type TFRecordState } from './state.js'

/**
 * Combines the states of every rank of a job (one each, taken at the same world size, from the
 * same resume) into one state saying which records of the epoch the job still owes. Pass it
 * as `resume` to each rank of the new world, with its own `shard: { index, count }`: across
 * those ranks every owed record is delivered exactly once. Pure and deterministic: the order
 * of `states` does not matter. Throws TypeError for something that is not a state (or one
 * without the elastic part: from a sluice before elastic resume), RangeError for states that
 * do not make one job's whole world.
 */
export function mergeStates(states: readonly TFRecordState[]): TFRecordState {
  if (!Array.isArray(states) || states.length === 0) throw new TypeError('mergeStates: states must be a non-empty array of ds.state() results')
  const parts = states.map((state, i) => {
    checkStateShape(state, `mergeStates: states[${i}]`)
    if (state.elastic === undefined) {
      throw new TypeError(`mergeStates: states[${i}] has no elastic part (written by an older sluice, or before its rank began reading); it can resume only its own rank`)
    }
    return state.elastic
  })
  const first = parts[0]!
  const world = first.world
  const seen: boolean[] = []
  parts.forEach((e, i) => {
    const differs = (['job', 'from', 'world', 'seed', 'buffer'] as const).find((key) => e[key] !== first[key]) ?? (states[i]!.epoch !== states[0]!.epoch ? 'epoch' : undefined)
    if (differs !== undefined) throw new RangeError(`mergeStates: states[${i}] differs from states[0] in its ${differs}: not the same job, world or resume`)
    if (seen[e.rank]) throw new RangeError(`mergeStates: rank ${e.rank} of ${world} appears twice`)
    seen[e.rank] = true
  })
  if (states.length !== world) {
    const missing = Array.from({ length: world }, (_, r) => r).filter((r) => !seen[r])
    throw new RangeError(`mergeStates: the states of all ${world} ranks are needed; missing rank ${missing.join(', ')}`)
  }
  let remaining: Piece[]
  try {
    remaining = normalizePieces(states.flatMap(remainingOf))
  } catch (err) {
    throw new RangeError(`mergeStates: two states owe the same records (${(err as Error).message}): they are not one job's ranks`)
  }
  const id = remainderId(first.job, remaining)
  const mode = parts.some((e) => e.mode === 'records') ? 'records' : first.mode
  const elastic: TFRecordElastic = { job: first.job, from: id, rank: 0, world: 1, seed: first.seed, buffer: first.buffer, mode, part: remaining }
  return { v: 1, epoch: states[0]!.epoch, delivered: 0, counts: [], plan: partFingerprint(first.job, id, 0, 1), elastic }
}

/**
 * The records of the epoch that `state`'s rank still owes: those still in its shuffle buffer
 * and those it never pulled, in the sequence's order. Throws RangeError if the progress does
 * not fit the part.
 */
export function remainingOf(state: TFRecordState): Piece[] {
  const e = state.elastic!
  const groups = groupPieces(e.part) // fresh ranges: closing them below leaves the state alone
  if (state.counts.length > groups.length) throw new RangeError(`resume: state counts ${state.counts.length} finished items of a part of ${groups.length}`)
  state.counts.forEach((c, j) => closeGroup(groups[j]!, c))
  const lengths = groups.map((g) => rangesLength(g.ranges))
  const total = lengths.every((n) => n !== undefined) ? lengths.reduce((a, b) => a! + b!, 0) : undefined
  const replay = replayShuffle(e.buffer, new Rng(e.seed ?? 0, state.epoch, 'buffer'), state.delivered, total)
  const out: Piece[] = replay.slots.map((p) => {
    const at = locate(groups, lengths, p)
    const record = groups[at.group]!.ranges[at.range]![0] + at.offset
    return [groups[at.group]!.k, record, record + 1]
  })
  const at = locate(groups, lengths, replay.pulled)
  groups.slice(at.group).forEach((g, j) => {
    g.ranges.slice(j === 0 ? at.range : 0).forEach(([first, end], r) => out.push([g.k, first + (j === 0 && r === 0 ? at.offset : 0), end]))
  })
  return normalizePieces(out)
}

/** A finished item's count closes its open range (files mode reads shards to their end). */
function closeGroup(g: PieceGroup, count: number): void {
  let before = 0
  for (const range of g.ranges) {
    if (range[1] === null) {
      if (count < before) break
      range[1] = range[0] + count - before
      return
    }
    before += range[1] - range[0]
  }
  if (before !== count) throw new RangeError(`resume: state counts ${count} records in an item of ${before}`)
}

interface Position {
  group: number
  range: number
  offset: number
}

/** Where the p-th record of the part (counted from 0) is; past the end of a closed part: one past its last group. */
function locate(groups: readonly PieceGroup[], lengths: readonly (number | undefined)[], p: number): Position {
  for (let group = 0; group < groups.length; group++) {
    const n = lengths[group]
    if (n !== undefined && p >= n) {
      p -= n
      continue
    }
    const ranges = groups[group]!.ranges
    for (let range = 0; range < ranges.length; range++) {
      const [first, end] = ranges[range]!
      const size = end === null ? Number.POSITIVE_INFINITY : end - first
      if (p < size) return { group, range, offset: p }
      p -= size
    }
  }
  if (p > 0) throw new RangeError('resume: state says more records were pulled than its part holds')
  return { group: groups.length, range: 0, offset: 0 }
}
