/**
 * The disk tier's history: hit, miss, eviction and dropped-fill counts that every process
 * using a cache directory adds to a record inside it, so `sluice stats` run later, in its own
 * process, shows what the node's cache has done and not only its own zeros.
 *
 * A process adds what it counted since its last save, in one write transaction, so
 * processes sharing the directory add up exactly. Saves happen every few seconds and on
 * close, never per read (a write per hit would cost more than the hit); a process killed
 * with -9 loses at most its last interval. The counts are advisory: a save that fails (say,
 * on a full disk) is retried with the next one and never fails a read.
 */
import type { RecordedCounts, TierStats } from '../types.js'

const FIELDS = ['hits', 'hitBytes', 'misses', 'evictions', 'droppedFills'] as const
export type Counts = Pick<RecordedCounts, (typeof FIELDS)[number]>

/** How often a process adds its counts to the record, in milliseconds. */
export const RECORD_INTERVAL_MS = 5_000

export function countsOf(stats: TierStats): Counts {
  const out = zeroCounts()
  for (const f of FIELDS) out[f] = stats[f]
  return out
}

export function zeroCounts(): Counts {
  return { hits: 0, hitBytes: 0, misses: 0, evictions: 0, droppedFills: 0 }
}

export function difference(now: Counts, before: Counts): Counts {
  const out = zeroCounts()
  for (const f of FIELDS) out[f] = now[f] - before[f]
  return out
}

export function isZero(counts: Counts): boolean {
  return FIELDS.every((f) => counts[f] === 0)
}

/** `record` plus `delta`; a missing record starts now. Fields a damaged record lacks count as 0. */
export function addTo(record: RecordedCounts | undefined, delta: Counts, nowMs: number): RecordedCounts {
  const out: RecordedCounts = { ...zeroCounts(), sinceMs: typeof record?.sinceMs === 'number' ? record.sinceMs : nowMs }
  for (const f of FIELDS) {
    const stored = record?.[f]
    out[f] = (typeof stored === 'number' && Number.isFinite(stored) ? stored : 0) + delta[f]
  }
  return out
}
