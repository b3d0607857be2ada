/**
 * The disk tier's admission and eviction policy, as pure decisions: what one fill does next,
 * given how full the tier is and what sits at the old end of its two queues. The LMDB side
 * (lmdb-fill.ts) reads that situation inside the fill's write transaction, applies each step
 * and asks again, so the decisions and the exact usage they change commit together.
 *
 * Blocks sit in one of two FIFO queues. *Probation* holds blocks as they are filled; at
 * eviction time a probation block this process has seen twice or more (filled and hit, or
 * filled again after a refusal) is *promoted* to *main* instead of being a victim, as in
 * S3-FIFO. A *run* is new data arriving: fills of blocks this process has never seen
 * (compulsory misses), with few hits between them (NewDataRun). A full tier decides:
 *
 * 1. A block refused as new data because proven main blocks older than its run stood in the
 *    way (the protected share of rule 2), and asked for again, was no one-off scan: it
 *    evicts, uncontested, the main blocks that refused it.
 * 2. A block never seen evicts the oldest main block while main holds more than
 *    PROTECTED_SHARE of the tier, if that block is proven and older than the run. New data
 *    that fits thus becomes resident in its first epoch however often the old working set
 *    was read, and a one-off scan leaves the protected share alone.
 * 3. Otherwise the candidate must have been asked for more often than the oldest probation
 *    block (or the oldest main block when probation is empty), as TinyLFU, the victim
 *    counting one more if it counts at all (`credited`): a tie keeps the incumbent, so a
 *    loop over more than the tier keeps a resident part and hits it every epoch, where LRU
 *    would evict each block just before it is needed again. A winner evicts only the room
 *    it needs.
 *
 * While a run lasts, its own blocks are neither promoted nor contested. Read-ahead parks
 * blocks in the tier and the reader hits them moments later, which makes them look proven
 * within their first pass; promoted, they would fill main and let the run evict itself
 * (rule 2) or push the protected share out.
 *
 * Why these rules (docs/design.md has the figures): in its first epoch a new dataset looks
 * exactly like the second half of a loop, and like a one-off scan; what tells them apart is
 * whether the blocks it would displace have proven themselves (rule 2 against rule 3) and
 * whether the refused blocks come back (rule 1). Frequencies and runs are the process's own
 * (frequency-sketch.ts); the queues, main's bytes and usage are the tier's, in LMDB, shared
 * by every process.
 */

/** Share of the tier kept for proven blocks against new data (rule 2): a hot set up to this survives any one-off scan. */
export const PROTECTED_SHARE = 0.15

/** At most this many promotions in one fill, so no fill walks a long run of proven blocks. */
export const MAX_PROMOTIONS_PER_FILL = 32

/** A block seen this often (fills and hits, by the process's sketch) has proven itself. */
const PROVEN = 2

/** The oldest block of a queue, as the policy sees it. */
export interface QueueTail {
  /** Insertion sequence: main is every block with a sequence below `mainBelow`. */
  seq: number
  /** Bytes it is charged. */
  bytes: number
  /** How often this process asked for it (sketch estimate). */
  frequency: number
}

/** The tier as a fill finds it, read again after every step. */
export interface TierSituation {
  usedBytes: number
  maxBytes: number
  /** Bytes charged to main blocks. */
  mainBytes: number
  mainTail: QueueTail | undefined
  probationTail: QueueTail | undefined
}

export interface Candidate {
  /** Bytes it would be charged. */
  bytes: number
  /** How often this process asked for it, this fill included. */
  frequency: number
  /**
   * Set when it was refused because of the protected share and is asked for again: the
   * `mainBelow` of that moment (main blocks older than that refused it).
   */
  refusedBelow?: number
  /** Where the run this fill belongs to began (NewDataRun), if it belongs to one. */
  runSince?: number
}

export type Step =
  | { kind: 'admit' }
  /** `byProtection`: the protected share stood in the way; remember the refusal (rule 1). */
  | { kind: 'reject'; byProtection: boolean }
  | { kind: 'evict'; queue: 'main' | 'probation' }
  | { kind: 'promote' }

const ADMIT: Step = { kind: 'admit' }
const PROMOTE: Step = { kind: 'promote' }
const EVICT_MAIN: Step = { kind: 'evict', queue: 'main' }
const EVICT_PROBATION: Step = { kind: 'evict', queue: 'probation' }

export function protectedBytes(maxBytes: number): number {
  return Math.floor(maxBytes * PROTECTED_SHARE)
}

function proven(tail: QueueTail): boolean {
  return tail.frequency >= PROVEN
}

/**
 * What a victim counts for in a contest: one more than it was asked for, for the pass in
 * progress, if this process has asked for it at all. It is the oldest block, so a reader that
 * passes over its data again reaches it soon; without the credit a refilled block one count
 * ahead evicts it, and its refill then evicts the next (a loop collapsed that way, in an
 * epoch after one overestimated block). A block this process never asked for is in none of
 * its passes: a restarted process's new dataset displaces the old one's blocks at once.
 */
function credited(victim: QueueTail): number {
  return victim.frequency > 0 ? victim.frequency + 1 : 0
}

/** A block this process has never seen: counted once, by this fill. */
export function neverSeen(frequency: number): boolean {
  return frequency <= 1
}

/**
 * One process's current run of new data, kept where its lookups and fills are counted. A fill
 * of a never-seen block continues the run, or starts one at the tier's next sequence. The
 * process going back to data it had ends it: more than `gap` hits, or two fills of blocks
 * seen before, since the run's last fill (what comes next is new data of its own). Hits
 * within the gap are the reader reading what it fetched ahead, or another file it reads
 * alongside; one seen fill alone is as likely a block the sketch overestimates, which must
 * not cut new data in two.
 */
export class NewDataRun {
  private since: number | undefined
  private hits = 0
  private seenFills = 0

  constructor(private readonly gap: number) {}

  hit(): void {
    this.hits++
  }

  /** The sequence the run of this fill began at, or undefined when there is no run. */
  fill(frequency: number, nextSeq: number): number | undefined {
    if (!neverSeen(frequency)) this.seenFills++
    if (this.hits > this.gap || this.seenFills >= 2) this.since = undefined
    if (neverSeen(frequency)) {
      this.since ??= nextSeq
      this.hits = 0
      this.seenFills = 0
    }
    return this.since
  }
}

/** Hits in a row that end a run, for a tier of `capacity` blocks. */
export function runGap(capacity: number): number {
  return Math.max(16, Math.floor(capacity / 8))
}

/** The decisions of one fill, step by step: `next` until it says admit or reject. */
export class FillAdmission {
  private contested = false
  private promotions = 0

  constructor(private readonly candidate: Candidate) {}

  next(tier: TierSituation): Step {
    const c = this.candidate
    if (tier.usedBytes + c.bytes <= tier.maxBytes) return ADMIT
    const main = tier.mainTail
    const probation = tier.probationTail
    if (main !== undefined && c.refusedBelow !== undefined && main.seq < c.refusedBelow) return EVICT_MAIN
    const before = c.runSince ?? Infinity
    // New data, and main's oldest block proven and older than its run: that block yields
    // beyond the protected share, and a refusal it causes is remembered.
    const yields = neverSeen(c.frequency) && main !== undefined && proven(main) && main.seq < before
    if (yields && tier.mainBytes > protectedBytes(tier.maxBytes)) return EVICT_MAIN
    if (probation !== undefined && proven(probation) && probation.seq < before) {
      // Past the cap the fill is refused, not contested against a block that promotion would
      // have kept; the next fill carries on promoting.
      if (this.promotions === MAX_PROMOTIONS_PER_FILL) return { kind: 'reject', byProtection: yields }
      this.promotions++
      return PROMOTE
    }
    // The run's own blocks are no victims while it lasts: one block the sketch overestimates
    // would otherwise evict the run's first block, which the next pass needs first (and whose
    // refill would then evict the second, and so on).
    const victim = probation !== undefined && probation.seq < before ? probation : main !== undefined && main.seq < before ? main : undefined
    if (victim === undefined) return { kind: 'reject', byProtection: yields }
    if (!this.contested) {
      if (c.frequency <= credited(victim)) return { kind: 'reject', byProtection: yields }
      this.contested = true
    }
    return victim === probation ? EVICT_PROBATION : EVICT_MAIN
  }
}
