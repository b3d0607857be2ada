/**
 * The disk tier's admission and eviction policy, as pure decisions: what one fill does next,
 * given how full the tier is and what sits at the old end of its two queues. The LMDB side
 * (lmdb-fill.ts) reads that situation inside the fill's write transaction, applies each step
 * and asks again, so the decisions and the exact usage they change commit together.
 *
 * Blocks sit in one of two FIFO queues. *Probation* holds blocks as they are filled; at
 * eviction time a probation block this process has seen twice or more (filled and hit, or
 * filled again after a refusal) is *promoted* to *main* instead of being a victim, as in
 * S3-FIFO. A full tier then decides in this order:
 *
 * 1. A block refused earlier because of the protected share (below) and asked for again was
 *    no one-off scan: it evicts, uncontested, the main blocks that refused it.
 * 2. A block this process has never seen (a compulsory miss: new data) evicts the oldest main
 *    block while main holds more than PROTECTED_SHARE of the tier and that block is proven.
 *    New data that fits thus becomes resident in its first epoch, however often the old
 *    working set was read, and a one-off scan still leaves the protected share alone.
 * 3. Otherwise the candidate must be asked for more often than the oldest probation block
 *    (or the oldest main block when probation is empty), as TinyLFU: a tie keeps the
 *    incumbent, so a loop over more than the tier keeps a resident part and hits it every
 *    epoch, where LRU would evict each block just before it is needed again. A winner evicts
 *    only the room it needs.
 *
 * Why these rules (docs/design.md has the figures): in its first epoch a new dataset looks
 * exactly like the second half of a loop, and like a one-off scan; what tells them apart is
 * whether the blocks it would displace have proven themselves (rule 2 versus rule 3) and
 * whether the refused blocks come back (rule 1). Frequencies come from the process's own
 * sketch (frequency-sketch.ts); the queues, the main share and usage are the tier's own, in
 * LMDB and shared by every process.
 */

/** Share of the tier kept for proven blocks against new data (rule 2): a hot set up to this survives any one-off scan. */
export const PROTECTED_SHARE = 0.2

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
    const brandNew = c.frequency <= 1
    if (main !== undefined && brandNew && tier.mainBytes > protectedBytes(tier.maxBytes) && proven(main)) return EVICT_MAIN
    if (probation !== undefined && proven(probation) && this.promotions < MAX_PROMOTIONS_PER_FILL) {
      this.promotions++
      return PROMOTE
    }
    const victim = probation ?? main
    if (victim === undefined) return { kind: 'reject', byProtection: false }
    if (!this.contested) {
      if (c.frequency <= victim.frequency) return { kind: 'reject', byProtection: brandNew && main !== undefined && proven(main) }
      this.contested = true
    }
    return probation !== undefined ? EVICT_PROBATION : EVICT_MAIN
  }
}
