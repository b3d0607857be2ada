/**
 * A read plan as the cache needs it: the sequence of blocks the plan's reads touch, in order,
 * with each block's next use, in typed arrays only (lists of u32, u32-list.ts).
 *
 * - `steps`: where each step (one planned read) starts in the block sequence. A step that
 *   begins in the block the previous step ended in shares that entry, so a sequential plan
 *   (many records per block) costs one entry per block, not per record.
 * - `seq` and `next`: the block of each entry and the position of that block's next entry
 *   (the classic next-occurrence array, built forward with `last`, so the plan can be
 *   extended: the next epoch appended to the one being read).
 * - `cursor`: per block, its next use at or after the consumer's position, or NONE. Moving the
 *   position past an entry sets its block's cursor to the entry's `next`: O(1) per entry.
 *
 * Positions are logical: they only grow, and a consumed prefix dropped from the arrays
 * (`compact`) moves a base, so the positions heaps hold stay valid. Per step: 4 bytes, plus 8
 * per block entry (about one per step in a global shuffle); per block of the plan's objects:
 * 8 bytes.
 *
 * Listeners hear every cursor move (`moved`): the tiers' heaps (next-use-heap.ts) and the
 * plan's prefetch window (plan-prefetch.ts).
 */
import type { PlannedRead } from '../types.js'
import type { PlanObjects } from './plan-objects.js'
import { NONE, U32List } from './u32-list.js'

export interface NextUseListener {
  /** `block`'s next use moved from `from` (NONE: it had none) to `to` (NONE: none is left). */
  moved(block: number, from: number, to: number): void
}

/** A consumed prefix is dropped once it is this many entries and half the arrays. */
const COMPACT_AT = 1 << 16

export class BlockSequence {
  private readonly stepFirst = new U32List()
  private stepBase = 0
  private readonly seq = new U32List()
  private readonly next = new U32List()
  private seqBase = 0
  private readonly cursor = new U32List()
  private readonly last = new U32List()
  /** Steps consumed. */
  position = 0
  /** Block entries consumed (logical). */
  seqPosition = 0
  readonly listeners: NextUseListener[] = []

  constructor(readonly objects: PlanObjects) {}

  /** Steps in the plan, consumed ones included. */
  get length(): number {
    return this.stepBase + this.stepFirst.length
  }

  /** Position after the last block entry. */
  get seqEnd(): number {
    return this.seqBase + this.seq.length
  }

  blockAt(p: number): number {
    return this.seq.get(p - this.seqBase)
  }

  /** Next use of a block at or after the consumer's position; NONE when the remaining plan does not read it. */
  nextUse(block: number): number {
    return block < this.cursor.length ? this.cursor.get(block) : NONE
  }

  /** The use of a block after its next one (the one a fetch now is for); NONE when there is none. */
  useAfterNext(block: number): number {
    const next = this.nextUse(block)
    return next === NONE ? NONE : this.next.get(next - this.seqBase)
  }

  /** Bytes held by the arrays. */
  get byteLength(): number {
    return this.stepFirst.byteLength + this.seq.byteLength + this.next.byteLength + this.cursor.byteLength + this.last.byteLength
  }

  /**
   * Appends reads. Every read is checked before any is added, so a bad read (RangeError
   * naming it) leaves the plan as it was.
   */
  append(reads: Iterable<PlannedRead>): void {
    const firsts = new U32List(1024)
    const counts = new U32List(1024)
    const bs = this.objects.blockSize
    let n = this.length
    for (const read of reads) {
      checkRead(read, n++)
      const object = this.objects.intern(read.object)
      const count = read.end > read.start ? Math.ceil(read.end / bs) - Math.floor(read.start / bs) : 0
      firsts.push(this.objects.firstBlock(object) + Math.floor(read.start / bs))
      counts.push(count)
    }
    const blocks = this.objects.totalBlocks
    if (blocks > this.cursor.length) {
      this.cursor.fill(NONE, blocks - this.cursor.length)
      this.last.fill(NONE, blocks - this.last.length)
    }
    this.compact()
    for (let i = 0; i < firsts.length; i++) {
      let first = firsts.get(i)
      let count = counts.get(i)
      const end = this.seqEnd
      // Shared only with the previous step's own last entry, and only while it is unconsumed.
      const steps = this.stepFirst.length
      if (count > 0 && end > this.seqPosition && steps > 0 && this.stepFirst.get(steps - 1) < end && this.seq.get(this.seq.length - 1) === first) {
        this.stepFirst.push(end - 1)
        first++
        count--
      } else this.stepFirst.push(end)
      for (let j = 0; j < count; j++) this.pushEntry(first + j)
    }
    for (const list of [this.stepFirst, this.seq, this.next, this.cursor, this.last]) list.trim()
  }

  private pushEntry(block: number): void {
    const p = this.seqEnd
    if (p >= NONE - 1) throw new RangeError(`read plan: more than ${NONE - 2} block reads in its lifetime`)
    this.seq.push(block)
    this.next.push(NONE)
    const last = this.last.get(block)
    if (last !== NONE && last >= this.seqBase) this.next.set(last - this.seqBase, p)
    this.last.set(block, p)
    if (this.cursor.get(block) === NONE) {
      this.cursor.set(block, p)
      for (const l of this.listeners) l.moved(block, NONE, p)
    }
  }

  /** The consumer has finished `steps` more reads: their block entries are passed. */
  advance(steps: number): void {
    if (!Number.isSafeInteger(steps) || steps < 0) throw new RangeError(`read plan: advance(steps) takes a non-negative integer, got ${steps}`)
    const target = this.position + steps
    if (target > this.length) throw new RangeError(`read plan: advance(${steps}) from step ${this.position} passes the end of the plan (${this.length} steps)`)
    const seqTarget = target === this.length ? this.seqEnd : this.stepFirst.get(target - this.stepBase)
    for (let p = this.seqPosition; p < seqTarget; p++) {
      const block = this.seq.get(p - this.seqBase)
      const to = this.next.get(p - this.seqBase)
      this.cursor.set(block, to)
      for (const l of this.listeners) l.moved(block, p, to)
    }
    this.seqPosition = Math.max(this.seqPosition, seqTarget)
    this.position = target
  }

  /** Drops the consumed prefix once it is large, so a plan extended epoch after epoch stays bounded. */
  private compact(): void {
    const drop = this.seqPosition - this.seqBase
    if (drop < COMPACT_AT || drop * 2 < this.seq.length) return
    this.seq.dropFront(drop)
    this.next.dropFront(drop)
    this.seqBase += drop
    const steps = this.position - this.stepBase
    this.stepFirst.dropFront(steps)
    this.stepBase += steps
  }
}

function checkRead(read: PlannedRead, n: number): void {
  const o = read?.object
  if (typeof o !== 'object' || o === null || typeof o.url !== 'string' || typeof o.version !== 'string' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new TypeError(`read plan: read ${n} needs an object { url, size, version } (an ObjectInfo from list/stat)`)
  }
  const { start, end } = read
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > o.size) {
    throw new RangeError(`read plan: read ${n} of ${o.url} has range [${start}, ${end}), outside [0, ${o.size}] or reversed`)
  }
}
