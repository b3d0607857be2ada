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
 *
 * RecordedCountsKeeper does this for one tier: the timer, the saves one after another, and
 * the counts stats show. Where the record lives is the tier's (`meta` in the disk tier); the
 * functions below are the arithmetic.
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

/** Where a tier keeps its recorded counts. */
export interface CountsRecord {
  /** The stored record, if any (may throw: the caller decides what an unreadable one means). */
  read(): RecordedCounts | undefined
  /** Replaces the record with `next(stored)`, read and written in one write transaction. */
  update(next: (stored: RecordedCounts | undefined) => RecordedCounts): Promise<void>
}

export class RecordedCountsKeeper {
  /** The tier's counters as of the last save. */
  private saved: Counts = zeroCounts()
  private saving: Promise<void> = Promise.resolve()
  private readonly timer: NodeJS.Timeout

  /** Saves `live` (the tier's own counters, which it keeps counting) every RECORD_INTERVAL_MS. */
  constructor(
    private readonly live: TierStats,
    private readonly record: CountsRecord,
  ) {
    this.timer = setInterval(() => void this.save().catch(() => {}), RECORD_INTERVAL_MS)
    this.timer.unref()
  }

  /**
   * Adds what the tier counted since its last save to the recorded counts. Saves run one
   * after another: two at once would both add the same counts.
   */
  save(): Promise<void> {
    const next = this.saving.then(() => this.saveOnce(), () => this.saveOnce())
    this.saving = next.catch(() => {})
    return next
  }

  private async saveOnce(): Promise<void> {
    const now = countsOf(this.live)
    const delta = difference(now, this.saved)
    if (isZero(delta)) return
    await this.record.update((stored) => addTo(stored, delta, Date.now()))
    this.saved = now
  }

  /** The recorded counts plus what the tier has not saved yet (none: undefined). */
  recorded(): RecordedCounts | undefined {
    let stored: RecordedCounts | undefined
    try {
      stored = this.record.read()
    } catch {
      stored = undefined // stats must not fail on an unreadable record
    }
    const unsaved = difference(countsOf(this.live), this.saved)
    return stored === undefined && isZero(unsaved) ? undefined : addTo(stored, unsaved, Date.now())
  }

  /**
   * Stops the timer and saves a last time, then resolves to the counts as of then, for stats
   * read after the record is closed. Advisory counts: a failed last save (full disk) is not
   * an error here.
   */
  async stop(): Promise<RecordedCounts | undefined> {
    clearInterval(this.timer)
    await this.save().catch(() => {})
    return this.recorded()
  }
}
