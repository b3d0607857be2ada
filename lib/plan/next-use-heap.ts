/**
 * One tier's residents of a read plan, furthest next use first: a lazy max-heap of (next use,
 * block) pairs in two u32 lists, and a byte per plan block saying whether the tier holds it.
 *
 * Lazy, because next uses only move when the consumer passes a block, and then only later:
 * instead of finding and raising the block's entry, the move pushes a fresh one (O(log n))
 * and the old one, which now understates the block, is dropped when it reaches the top (its
 * key no longer equals the block's next use). Every held block has exactly one current entry,
 * so the first current entry at the top is the furthest held block. Stale entries are swept
 * out when they outnumber the held blocks, so the heap stays within a small multiple of them.
 */
import type { PlannedResidents } from '../cache/eviction-plan.js'
import { keyString } from '../cache/block-key.js'
import type { BlockSequence, NextUseListener } from './block-sequence.js'
import { NONE, U32List } from './u32-list.js'

export class NextUseHeap implements PlannedResidents, NextUseListener {
  private readonly keys = new U32List()
  private readonly blocks = new U32List()
  private held = new Uint8Array(0)
  private heldCount = 0
  private closed = false

  constructor(private readonly sequence: BlockSequence) {
    sequence.listeners.push(this)
  }

  /** Blocks held, by this heap's count. */
  get size(): number {
    return this.heldCount
  }

  get byteLength(): number {
    return this.keys.byteLength + this.blocks.byteLength + this.held.byteLength
  }

  add(ks: string): void {
    const block = this.sequence.objects.blockOf(ks)
    if (block >= 0) this.addBlock(block)
  }

  addBlock(block: number): void {
    if (this.closed) return
    if (block >= this.held.length) this.grow()
    if (this.held[block] === 1) return
    this.held[block] = 1
    this.heldCount++
    this.push(this.sequence.nextUse(block), block)
  }

  delete(ks: string): void {
    const block = this.sequence.objects.blockOf(ks)
    if (block >= 0) this.forget(block)
  }

  moved(block: number, _from: number, to: number): void {
    if (block < this.held.length && this.held[block] === 1) this.push(to, block)
  }

  furthest(present?: (ks: string) => boolean): { ks: string; nextUse: number } | undefined {
    while (this.keys.length > 0) {
      const key = this.keys.get(0)
      const block = this.blocks.get(0)
      if (this.held[block] !== 1 || this.sequence.nextUse(block) !== key) {
        this.pop()
        continue
      }
      const ks = keyString(this.sequence.objects.keyOf(block))
      if (present !== undefined && !present(ks)) {
        this.forget(block)
        this.pop()
        continue
      }
      return { ks, nextUse: key === NONE ? Infinity : key }
    }
    return undefined
  }

  close(): void {
    this.closed = true
    const i = this.sequence.listeners.indexOf(this)
    if (i >= 0) this.sequence.listeners.splice(i, 1)
    this.keys.length = 0
    this.blocks.length = 0
    this.keys.trim()
    this.blocks.trim()
    this.held = new Uint8Array(0)
    this.heldCount = 0
  }

  private forget(block: number): void {
    if (block < this.held.length && this.held[block] === 1) {
      this.held[block] = 0
      this.heldCount--
    }
  }

  private grow(): void {
    const next = new Uint8Array(this.sequence.objects.totalBlocks)
    next.set(this.held)
    this.held = next
  }

  private push(key: number, block: number): void {
    if (this.keys.length > 2 * this.heldCount + 1024) this.sweep()
    this.keys.push(key)
    this.blocks.push(block)
    this.siftUp(this.keys.length - 1)
  }

  private pop(): void {
    const last = this.keys.length - 1
    this.swap(0, last)
    this.keys.length = last
    this.blocks.length = last
    if (last > 0) this.siftDown(0)
  }

  /** Keeps only current entries of held blocks, then restores the heap order. */
  private sweep(): void {
    let n = 0
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys.get(i)
      const block = this.blocks.get(i)
      if (this.held[block] !== 1 || this.sequence.nextUse(block) !== key) continue
      this.keys.set(n, key)
      this.blocks.set(n, block)
      n++
    }
    this.keys.length = n
    this.blocks.length = n
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i)
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.keys.get(parent) >= this.keys.get(i)) return
      this.swap(i, parent)
      i = parent
    }
  }

  private siftDown(i: number): void {
    const n = this.keys.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) return
      const r = l + 1
      const child = r < n && this.keys.get(r) > this.keys.get(l) ? r : l
      if (this.keys.get(i) >= this.keys.get(child)) return
      this.swap(i, child)
      i = child
    }
  }

  private swap(a: number, b: number): void {
    const k = this.keys.get(a)
    const v = this.blocks.get(a)
    this.keys.set(a, this.keys.get(b))
    this.blocks.set(a, this.blocks.get(b))
    this.keys.set(b, k)
    this.blocks.set(b, v)
  }
}
