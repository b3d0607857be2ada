/**
 * What a dataset counts while it reads: the public TFRecordStats shape, and the one place
 * that makes and adds them, so a run and the dataset's totals agree on every field.
 */

export interface TFRecordStats {
  /** Records delivered to the caller. */
  records: number
  /** Payload bytes delivered. */
  bytes: number
  /** Corrupt regions skipped (`onCorrupt: 'skip'`): one per failed check. */
  corruptSkipped: number
  /** Shards opened / finished by the reader. */
  shardsOpened: number
  shardsDone: number
  /** Milliseconds the caller spent waiting for the next record (queue empty). */
  waitMs: number
  /** Record indexes built by a pass over a shard (not found in memory or the cache directory). */
  indexesBuilt: number
}

export function newStats(): TFRecordStats {
  return { records: 0, bytes: 0, corruptSkipped: 0, shardsOpened: 0, shardsDone: 0, waitMs: 0, indexesBuilt: 0 }
}

/** Adds `from` into `into`, field by field. */
export function addStats(into: TFRecordStats, from: TFRecordStats): void {
  for (const k of Object.keys(into) as (keyof TFRecordStats)[]) into[k] += from[k]
}
