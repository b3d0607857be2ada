/**
 * The resumable position of a dataset, the fingerprints that tie it to one plan and one job,
 * and the check of its shape.
 *
 * A state is small on purpose (it goes into every checkpoint): the number of records already
 * delivered in this epoch, and the record count of each shard the reader had finished, in
 * plan order. With the plan (a pure function of shards, seed, epoch and rank) and the shuffle
 * buffer's replay (shuffle-buffer.ts) that is enough to know exactly which records are still
 * owed and in which order. The fingerprint refuses a state from a different plan instead of
 * silently resuming into the wrong records.
 *
 * For resuming at another world size a state also names its rank's part of the epoch's
 * sequence as pieces (pieces.ts) with the shuffle settings to replay it (`elastic`): with that
 * alone, the states of all ranks say which records the job still owes (elastic.ts). States
 * written before it lack the field; they still resume their own rank.
 */
import { createHash } from 'node:crypto'
import type { ObjectInfo } from '../../lib/index.js'
import { isSortedDisjoint, type Piece } from './pieces.js'

/** JSON-serializable position within one epoch. Pass back as `resume`. */
export interface TFRecordState {
  /** Format version. */
  v: 1
  epoch: number
  /** Records (or examples) delivered so far in this epoch, of this rank's part. */
  delivered: number
  /** Records of each plan item the reader has finished, in plan order (a prefix of the plan). */
  counts: number[]
  /** Fingerprint of the plan: shards and versions, seed, shuffle settings, rank. */
  plan: string
  /** What resuming at another world size needs (see mergeStates); absent in older states. */
  elastic?: TFRecordElastic
}

export interface TFRecordElastic {
  /** Fingerprint of what every rank of the job shares: shards and versions, epoch, seed, shuffle, onCorrupt. */
  job: string
  /** '' for a part of the whole epoch; else the id of the remainder (a merged state) the part was cut from. */
  from: string
  rank: number
  world: number
  /** Shuffle seed (null without shuffle) and buffer size: what replays the buffer. */
  seed: number | null
  buffer: number
  /** How the part is read: whole shards without an index, by the record indexes, or global shuffle. */
  mode: 'files' | 'records' | 'global'
  /** This rank's part of the epoch's sequence, in reading order. */
  part: Piece[]
}

export interface PlanIdentity {
  shards: readonly ObjectInfo[]
  epoch: number
  mode: string
  seed: number | undefined
  buffer: number
  shuffleShards: boolean
  index: number
  count: number
  onCorrupt: string
}

export function planFingerprint(id: PlanIdentity): string {
  const h = createHash('sha256')
  h.update(JSON.stringify([id.epoch, id.mode, id.seed ?? null, id.buffer, id.shuffleShards, id.index, id.count, id.onCorrupt]))
  for (const s of id.shards) h.update(`\n${s.url}\t${s.version}`)
  return h.digest('hex').slice(0, 24)
}

export interface JobIdentity {
  shards: readonly ObjectInfo[]
  epoch: number
  global: boolean
  seed: number | undefined
  buffer: number
  shuffleShards: boolean
  onCorrupt: string
}

/** The epoch's sequence and shuffle, whatever the world size: what all states of one job share. */
export function jobFingerprint(id: JobIdentity): string {
  const h = createHash('sha256')
  h.update(JSON.stringify(['job', id.epoch, id.global, id.seed ?? null, id.buffer, id.shuffleShards, id.onCorrupt]))
  for (const s of id.shards) h.update(`\n${s.url}\t${s.version}`)
  return h.digest('hex').slice(0, 24)
}

/** The id of a remainder of `job`'s epoch: the parts cut from it name it as their `from`. */
export function remainderId(job: string, pieces: readonly Piece[]): string {
  return createHash('sha256').update(JSON.stringify(['from', job, pieces])).digest('hex').slice(0, 24)
}

/** The plan fingerprint of a part cut from a remainder: the part itself is in the state. */
export function partFingerprint(job: string, from: string, index: number, count: number): string {
  return createHash('sha256').update(JSON.stringify(['part', job, from, index, count])).digest('hex').slice(0, 24)
}

const MODES: readonly string[] = ['files', 'records', 'global']

/** Throws TypeError `${who} must be a state returned by ds.state()` unless `state` has a state's shape. */
export function checkStateShape(state: TFRecordState, who: string): void {
  const ok =
    state !== null &&
    typeof state === 'object' &&
    state.v === 1 &&
    Number.isSafeInteger(state.epoch) &&
    Number.isSafeInteger(state.delivered) &&
    state.delivered >= 0 &&
    Array.isArray(state.counts) &&
    state.counts.every((c) => Number.isSafeInteger(c) && c >= 0) &&
    typeof state.plan === 'string' &&
    (state.elastic === undefined || elasticShapeOk(state.elastic))
  if (!ok) throw new TypeError(`${who} must be a state returned by ds.state()`)
}

function elasticShapeOk(e: TFRecordElastic): boolean {
  const count = (n: unknown, min: number): boolean => Number.isSafeInteger(n) && (n as number) >= min
  return (
    e !== null &&
    typeof e === 'object' &&
    typeof e.job === 'string' &&
    typeof e.from === 'string' &&
    count(e.world, 1) &&
    count(e.rank, 0) &&
    e.rank < e.world &&
    (e.seed === null || Number.isSafeInteger(e.seed)) &&
    count(e.buffer, 0) &&
    MODES.includes(e.mode) &&
    Array.isArray(e.part) &&
    e.part.every((p) => Array.isArray(p) && p.length === 3 && count(p[0], 0) && count(p[1], 0) && (p[2] === null || count(p[2], p[1]))) &&
    isSortedDisjoint(e.part)
  )
}
