/**
 * The resumable position of a dataset, and the fingerprint that ties it to one plan.
 *
 * A state is small on purpose (it goes into every checkpoint): the number of records already
 * delivered in this epoch, and the record count of each shard the reader had finished, in
 * plan order. With the plan (a pure function of shards, seed, epoch and rank) and the shuffle
 * buffer's replay (shuffle-buffer.ts) that is enough to know exactly which records are still
 * owed and in which order. The fingerprint refuses a state from a different plan instead of
 * silently resuming into the wrong records.
 */
import { createHash } from 'node:crypto'
import type { ObjectInfo } from '../../lib/index.js'

/** JSON-serializable position within one epoch. Pass back as `resume`. */
export interface TFRecordState {
  /** Format version. */
  v: 1
  epoch: number
  /** Records (or examples) delivered so far in this epoch. */
  delivered: number
  /** Records of each plan item the reader has finished, in plan order (a prefix of the plan). */
  counts: number[]
  /** Fingerprint of the plan: shards and versions, seed, shuffle settings, rank. */
  plan: string
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
