/**
 * The disk tier's victims while the reader follows a read plan: Belady's rule over blocks in
 * an LMDB environment that other processes fill too.
 *
 * The plan is this process's, the blocks are everybody's. So the choice is made inside each
 * fill's write transaction, from what is resident at that moment: the plan's tracker
 * (next-use-heap.ts) knows the plan blocks this process has seen resident (filled, hit, or
 * found by `has`), furthest next use first, and each one it names is checked against the
 * `sizes` index before it is taken; a block another process evicted is forgotten on the way.
 * Blocks the plan does not read (other datasets, other processes' data, blocks whose uses
 * are over) go first: the tracker names those of the plan's own; for the rest a clock hand
 * walks the insertion order a few entries per fill, resuming where it stopped, and also
 * makes the plan blocks it meets known to the tracker (blocks resident before this process
 * started, or filled by another). A fill is judged by its role's use (eviction-plan.ts: in
 * the keeping role, the use after the read it was fetched for); read later than every block
 * it could evict, it is refused (bypass). The removal itself is lmdb-fill.ts's, as a
 * deletion, so usage and the queues stay exact whoever evicts what.
 */
import { keyString } from './block-key.js'
import type { EvictionPlan, PlanRole, PlannedResidents } from './eviction-plan.js'
import type { PlanVictims } from './lmdb-fill.js'
import { seqKey, type CacheDbs } from './lmdb-layout.js'

/** Entries of the insertion order the clock hand looks at per victim, at most. */
const SCAN_ENTRIES = 64

export class DiskPlanVictims {
  /** Insertion sequence the next walk starts at. */
  private hand = 0

  constructor(
    private readonly plan: EvictionPlan,
    readonly residents: PlannedResidents,
    private readonly role: PlanRole,
  ) {}

  /** The victims of one fill of the block `ks`, for lmdb-fill.ts. */
  forFill(ks: string): PlanVictims {
    const judgedBy = this.judgedBy(ks)
    return {
      next: (dbs) => this.next(dbs, judgedBy),
      evicted: (key) => this.residents.delete(keyString(key)),
    }
  }

  /**
   * Whether a fill of `ks`, charged `charge`, would be kept now: there is room, or a known
   * resident is read later. Blocks outside the plan are not looked for: a false answer may be
   * wrong, and costs only a block fetched when it is read rather than ahead.
   */
  wouldKeep(dbs: CacheDbs, ks: string, charge: number, maxBytes: number): boolean {
    if ((dbs.meta.get('usage') ?? 0) + charge <= maxBytes) return true
    const furthest = this.residents.furthest(present(dbs))
    return furthest !== undefined && furthest.nextUse > this.judgedBy(ks)
  }

  /** When a fill of this block is next read, as this tier's role counts it (eviction-plan.ts). */
  private judgedBy(ks: string): number {
    return this.role === 'stage' ? this.plan.nextUse(ks) : this.plan.useAfterNext(ks)
  }

  private next(dbs: CacheDbs, judgedBy: number): Buffer | undefined {
    const top = this.residents.furthest(present(dbs))
    if (top !== undefined && top.nextUse === Infinity) return Buffer.from(top.ks, 'latin1')
    const outside = this.walk(dbs)
    if (outside !== undefined) return outside
    // The walk may have made blocks read further ahead known.
    const furthest = this.residents.furthest(present(dbs))
    return furthest !== undefined && furthest.nextUse > judgedBy ? Buffer.from(furthest.ks, 'latin1') : undefined
  }

  /** A resident block the remaining plan does not read, from the clock hand on, or undefined. */
  private walk(dbs: CacheDbs): Buffer | undefined {
    let budget = SCAN_ENTRIES
    for (let pass = 0; pass < 2 && budget > 0; pass++) {
      for (const { key, value } of dbs.order.getRange({ start: seqKey(this.hand), limit: budget })) {
        budget--
        this.hand = Number((key as Buffer).readBigUInt64BE(0)) + 1
        const ks = keyString(value as Buffer)
        if (this.plan.nextUse(ks) < Infinity) this.residents.add(ks)
        else if (dbs.sizes.doesExist(value as Buffer)) return Buffer.from(value as Buffer)
      }
      // Ran off the newest end: go round from the oldest.
      if (budget > 0) this.hand = 0
    }
    return undefined
  }
}

/** Whether a block is in the tier now, as the transaction (or the latest snapshot) sees it. */
function present(dbs: CacheDbs): (ks: string) => boolean {
  return (ks) => dbs.sizes.doesExist(Buffer.from(ks, 'latin1'))
}
