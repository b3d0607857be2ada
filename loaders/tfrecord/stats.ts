/**
 * The counters a dataset reports (`ds.stats()`), and the two operations on them.
 *
 * Each run counts into its own set, which the dataset adds to its running totals when the
 * next run replaces it; so `stats()` covers every iteration, and a run never needs to know
 * about the ones before it.
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

export function emptyStats(): TFRecordStats {
  return { records: 0, bytes: 0, corruptSkipped: 0, shardsOpened: 0, shardsDone: 0, waitMs: 0, indexesBuilt: 0 }
}

/** Adds every counter of `from` into `into`. */
export function addStats(into: TFRecordStats, from: TFRecordStats): void {
  for (const k of Object.keys(into) as (keyof TFRecordStats)[]) into[k] += from[k]
}
