/**
 * Prefetch in plan order: a walk over the plan's block sequence ahead of the consumer that
 * offers each block to the reader's prefetch (which skips blocks resident or in flight, pages
 * disk-resident ones in, and spends the shared budget of `prefetch.maxInflightBytes`), and
 * coalesces neighbouring blocks of one object into one run as read-ahead does.
 *
 * How far ahead: the walk keeps a window, the distinct blocks read between the consumer's
 * position and the walk, and stops where one more block would make it larger than the cache
 * can hold (the residence tier's capacity in blocks, at most the read-ahead bound). Belady's
 * rule keeps exactly the blocks read soonest, so a block beyond that window would be evicted
 * (or refused) before its use: fetching it would cost a fetch now and another then. The window
 * is kept incrementally: the walk adds a block where it meets its next use, and the
 * consumer's advance (a `moved` from the sequence) removes a block whose next use then falls
 * beyond the walk. O(1) per block entry either way.
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
  /** Distinct blocks the walk may hold ahead of the consumer: what the cache can keep, at most the read-ahead bound. */
  lookaheadBlocks(): number
  /** Whether a block fetched now would stay cached until it is read (staged above the keeping tier, or kept). */
  holdsUntilRead(obj: PinnedObject, index: number): boolean
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
    const limit = this.host.lookaheadBlocks()
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
