/**
 * Prefetch in plan order: a walk over the plan's block sequence ahead of the consumer that
 * offers each block to the reader's prefetch (which skips blocks resident or in flight, pages
 * disk-resident ones in, and spends the shared budget of `prefetch.maxInflightBytes`), and
 * coalesces neighbouring blocks of one object into one run as read-ahead does.
 *
 * How far ahead: the walk keeps a window, the distinct blocks read between the consumer's
 * position and the walk, no larger than `lookaheadBlocks` (the read-ahead bound, a staging
 * tier's size, a sixteenth of the keeping tier). Beyond what the cache can hold a block would
 * be evicted before its read, and even within it a block fetched early evicts earlier than
 * the optimum would (PLAN_LOOKAHEAD_SHARE). A block the keeping tier would not keep until
 * its read, with no tier staging it, is left for that read to fetch. The window is kept
 * incrementally: the walk adds a block where it meets its next use, and the consumer's
 * advance (a `moved` from the sequence) removes a block whose next use then falls beyond the
 * walk. O(1) per block entry either way.
 *
 * The walk resumes when the consumer advances, when the plan grows, and when one of its own
 * runs lands (the budget it held is free again).
 */
import type { PinnedObject } from '../object-handle.js'
import type { BlockSequence, NextUseListener } from './block-sequence.js'
import { NONE } from './u32-list.js'

/** What the walk needs from the reader. */
export interface PlanFetchHost {
  /**
   * Offers blocks `[first, first + count)` of `obj` to prefetch; returns how many of them,
   * from the first, are now resident, in flight or requested (fewer when the budget ran
   * out), and pushes the runs it started to `started`.
   */
  prefetchBlocks(obj: PinnedObject, first: number, count: number, started: Promise<unknown>[]): number
  /** Most blocks one fetch covers. */
  readonly maxRunBlocks: number
  /** What bounds the distinct blocks the walk holds ahead of the consumer (lookaheadBlocks). */
  lookaheadLimits(): LookaheadLimits
  /** Whether a block fetched now would stay cached until it is read (staged above the keeping tier, or kept). */
  holdsUntilRead(obj: PinnedObject, index: number): boolean
}

/** The tiers' sizes and the read-ahead bound, in blocks (Infinity: no staging tier). */
export interface LookaheadLimits {
  keepingBlocks: number
  stagingBlocks: number
  readAheadBlocks: number
}

/**
 * Share of the keeping tier a read plan's walk fetches ahead, at most. A block fetched ahead
 * is kept (or not) by what is resident when it lands, and evicts the block read furthest
 * ahead at that moment; by its read, blocks read in between may be read later still, and the
 * offline optimum would have evicted one of those. The earlier, the costlier: in a global
 * shuffle over twice a tier of 124 blocks, fetching ahead 4, 7 (this share), 16, 32 and 124
 * blocks cost 1.5%, 5%, 6%, 10% and 42% more fetches than eviction alone (which matched the
 * optimum). A training node's tier holds thousands of blocks, so the read-ahead bound decides.
 */
export const PLAN_LOOKAHEAD_SHARE = 1 / 16

/**
 * Distinct blocks the walk holds ahead, at most: the read-ahead bound, what a staging tier
 * holds, and PLAN_LOOKAHEAD_SHARE of the keeping tier (at least one block it can hold).
 */
export function lookaheadBlocks(l: LookaheadLimits): number {
  return Math.floor(Math.min(Math.max(1, l.keepingBlocks * PLAN_LOOKAHEAD_SHARE), l.keepingBlocks, l.stagingBlocks, l.readAheadBlocks))
}

export class PlanPrefetch implements NextUseListener {
  /** The next block entry the walk looks at (logical position). */
  private walkPos = 0
  /** Distinct blocks whose next use lies in [consumer, walkPos). */
  private windowBlocks = 0
  private readonly running = new Set<Promise<unknown>>()
  private stopped = false

  constructor(
    private readonly sequence: BlockSequence,
    private readonly host: PlanFetchHost,
    /** With a node-wide plan: the blocks this rank fetches ahead (PlanOptions.share). */
    private readonly share?: { index: number; count: number },
  ) {
    sequence.listeners.push(this)
  }

  moved(_block: number, from: number, to: number): void {
    // A use passed inside the window whose block is next read beyond the walk leaves it.
    if (from !== NONE && from < this.walkPos && to >= this.walkPos) this.windowBlocks--
  }

  /** Offers blocks ahead until the window is full, the budget is spent or the plan ends. */
  pump(): void {
    if (this.stopped) return
    const seq = this.sequence
    if (this.walkPos <= seq.seqPosition) {
      this.walkPos = seq.seqPosition
      this.windowBlocks = 0
    }
    const limit = lookaheadBlocks(this.host.lookaheadLimits())
    const objects = seq.objects
    const started: Promise<unknown>[] = []
    const end = seq.seqEnd
    while (this.walkPos < end) {
      const block = seq.blockAt(this.walkPos)
      if (seq.nextUse(block) !== this.walkPos) {
        this.walkPos++ // read earlier in the window: offered already
        continue
      }
      if (this.windowBlocks >= limit) break
      const object = objects.objectOf(block)
      const pinned = objects.list[object]!
      const index = block - objects.firstBlock(object)
      if (!this.mine(block) || !this.host.holdsUntilRead(pinned, index)) {
        // Another rank's to fetch; or, fetched now, it would be gone before its read: that read fetches it.
        this.walkPos++
        this.windowBlocks++
        continue
      }
      // The next entries, if they are the object's next blocks read for the first time, join the run.
      let count = 1
      while (count < this.host.maxRunBlocks && index + count < pinned.blockCount && this.walkPos + count < end && this.windowBlocks + count < limit) {
        const p = this.walkPos + count
        if (seq.blockAt(p) !== block + count || seq.nextUse(block + count) !== p || !this.mine(block + count) || !this.host.holdsUntilRead(pinned, index + count)) break
        count++
      }
      const covered = this.host.prefetchBlocks(pinned, index, count, started)
      this.walkPos += covered
      this.windowBlocks += covered
      if (covered < count) break
    }
    for (const run of started) this.track(run)
  }

  private mine(block: number): boolean {
    return this.share === undefined || block % this.share.count === this.share.index
  }

  /** Resolves once nothing the walk started is in flight and it can start nothing more. */
  async idle(): Promise<void> {
    for (;;) {
      this.pump()
      if (this.running.size === 0) return
      await Promise.allSettled([...this.running])
    }
  }

  stop(): void {
    this.stopped = true
    const i = this.sequence.listeners.indexOf(this)
    if (i >= 0) this.sequence.listeners.splice(i, 1)
  }

  private track(run: Promise<unknown>): void {
    this.running.add(run)
    const done = () => {
      this.running.delete(run)
      this.pump()
    }
    run.then(done, done)
  }
}
