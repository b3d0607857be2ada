/**
 * A read plan as the reader holds it (`reader.plan(reads)`; the public shape and the calls a
 * loader makes are ReadPlan's in types.ts). It ties three parts together: the block sequence
 * with its next uses (block-sequence.ts), the prefetch walk over it (plan-prefetch.ts), and,
 * as the EvictionPlan the tiers consult, one next-use heap per tier (next-use-heap.ts).
 *
 * The consumer's explicit `advance` is the only thing that moves the plan. Guessing the
 * position from reads would be fragile: reads repeat, arrive out of order from a loader's
 * own read-ahead, and include reads outside the plan (indexes, other files).
 *
 * Ending releases the arrays and tells the reader (which hands the tiers `undefined`); calls
 * on an ended plan are ignored, because a plan replaced by another ends under its loader.
 */
import type { EvictionPlan, PlannedResidents } from '../cache/eviction-plan.js'
import type { PinnedObject } from '../object-handle.js'
import type { ObjectInfo, PlanOptions, PlannedRead, ReadPlan } from '../types.js'
import { BlockSequence } from './block-sequence.js'
import { NextUseHeap } from './next-use-heap.js'
import { PlanObjects } from './plan-objects.js'
import { PlanPrefetch, type PlanFetchHost } from './plan-prefetch.js'
import { NONE } from './u32-list.js'
import { canonicalUrl } from '../url.js'

/** What a plan needs from its reader. */
export interface PlanHost extends PlanFetchHost {
  readonly blockSize: number
  /** Pins an object version as `open` does (canonical URL). */
  pin(info: ObjectInfo): PinnedObject
  /** The plan ended: stop following it if it is still the reader's. */
  planEnded(plan: ReaderPlan): void
}

export class ReaderPlan implements ReadPlan, EvictionPlan {
  private live: { sequence: BlockSequence; prefetch: PlanPrefetch } | undefined
  private final = { length: 0, position: 0 }

  /** Checks and stores every read first: a bad one throws and nothing has changed. */
  constructor(
    reads: Iterable<PlannedRead>,
    private readonly host: PlanHost,
    options: PlanOptions = {},
  ) {
    const share = checkShare(options.share)
    // Pinned under the canonical URL, as `open` pins it, so the plan's keys are the handles' keys.
    const sequence = new BlockSequence(new PlanObjects(host.blockSize, (info) => host.pin({ ...info, url: canonicalUrl(info.url) })))
    sequence.append(reads)
    this.live = { sequence, prefetch: new PlanPrefetch(sequence, host, share) }
  }

  get length(): number {
    return this.live?.sequence.length ?? this.final.length
  }

  get position(): number {
    return this.live?.sequence.position ?? this.final.position
  }

  get ended(): boolean {
    return this.live === undefined
  }

  get memoryBytes(): number {
    if (this.live === undefined) return 0
    const { sequence } = this.live
    let bytes = sequence.byteLength
    for (const l of sequence.listeners) if (l instanceof NextUseHeap) bytes += l.byteLength
    return bytes
  }

  /** Starts the prefetch walk (the reader calls it once the tiers follow the plan). */
  start(): void {
    this.live?.prefetch.pump()
  }

  extend(reads: Iterable<PlannedRead>): void {
    if (this.live === undefined) return
    this.live.sequence.append(reads)
    this.live.prefetch.pump()
  }

  advance(steps = 1): void {
    if (this.live === undefined) return
    this.live.sequence.advance(steps)
    this.live.prefetch.pump()
  }

  idle(): Promise<void> {
    return this.live === undefined ? Promise.resolve() : this.live.prefetch.idle()
  }

  end(): void {
    if (this.live === undefined) return
    const { sequence, prefetch } = this.live
    prefetch.stop()
    this.final = { length: sequence.length, position: sequence.position }
    this.live = undefined
    this.host.planEnded(this)
  }

  // ---- EvictionPlan (for the tiers) ----

  nextUse(ks: string): number {
    return this.lookup(ks, false)
  }

  useAfterNext(ks: string): number {
    return this.lookup(ks, true)
  }

  private lookup(ks: string, afterNext: boolean): number {
    if (this.live === undefined) return Infinity
    const { sequence } = this.live
    const block = sequence.objects.blockOf(ks)
    if (block < 0) return Infinity
    const at = afterNext ? sequence.useAfterNext(block) : sequence.nextUse(block)
    return at === NONE ? Infinity : at
  }

  residents(): PlannedResidents {
    if (this.live === undefined) throw new Error('read plan: residents() of an ended plan')
    return new NextUseHeap(this.live.sequence)
  }
}

function checkShare(share: PlanOptions['share']): PlanOptions['share'] {
  if (share === undefined) return undefined
  const { index, count } = share
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`read plan option share must be { index, count } with integers 0 <= index < count, got ${JSON.stringify(share)}`)
  }
  return { index, count }
}
