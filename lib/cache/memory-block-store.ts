/**
 * The memory tier: a byte-bounded LRU of blocks, with drop-behind. A JS Map keeps insertion
 * order, so moving a hit to the end is a delete and a set, and the oldest entry is the first
 * one iterated.
 *
 * LRU is right for what the tier holds: what is being read now and what prefetch put just
 * ahead of the reader; the disk tier below is the one that has to survive looping epochs
 * (see lmdb-block-store.ts). But in a sequential scan the block just read is the most
 * recently used one, so plain LRU would evict the prefetched blocks the reader has not
 * reached yet before the ones it has finished with, and fetch them twice. Blocks a
 * sequential reader has moved past are therefore `markPassed` into a second queue that is
 * evicted first; a later hit moves a block back. Blocks are held by reference (no copy);
 * callers never mutate them.
 *
 * It also counts its blocks per object, so the reader can tell which objects it must still
 * be able to find here (evict) and forget the rest.
 *
 * While the reader has a read plan (`followPlan`), the plan's blocks are held apart and go by
 * Belady's rule: every other block (kept in the LRU queues as before) is evicted first, then
 * the plan block read furthest ahead, and a fill read later than every held plan block is
 * refused (over a disk tier the memory tier stages blocks until their next read; alone, it
 * keeps them: eviction-plan.ts). The plan knows the order the reader will come back in; LRU
 * only guesses it.
 */
import { OBJECT_ID_BYTES, keyString } from './block-key.js'
import { newTierStats, type BlockStore } from './block-store.js'
import type { EvictionPlan, PlanRole, PlannedResidents } from './eviction-plan.js'
import type { TierStats } from '../types.js'

export class MemoryBlockStore implements BlockStore {
  readonly name = 'memory'
  readonly locality = 'local'
  private readonly map = new Map<string, Uint8Array>()
  /** Blocks a sequential reader has moved past, oldest first: evicted before `map`. */
  private readonly passed = new Map<string, Uint8Array>()
  /** With a plan: the blocks it reads, evicted after the others, furthest next use first. */
  private readonly planned = new Map<string, Uint8Array>()
  private plan: { order: EvictionPlan; residents: PlannedResidents; role: PlanRole } | undefined
  private used = 0
  /** Resident blocks per object id (the key string's first OBJECT_ID_BYTES characters). */
  private readonly blocksPerObject = new Map<string, number>()
  private readonly counters: TierStats
  /** Called with each key string evicted to make room (not on explicit deletes). */
  onEvict: ((key: string) => void) | undefined

  constructor(readonly maxBytes: number) {
    this.counters = newTierStats('memory', maxBytes)
  }

  /** Synchronous lookup, for the hot path. */
  getSync(key: Uint8Array): Uint8Array | undefined {
    const k = keyString(key)
    const v = this.lookup(k)
    if (v === undefined) {
      this.counters.misses++
      return undefined
    }
    // A plan block stays where the plan ranks it; any other moves to the recent end.
    if (this.map.delete(k) || this.passed.delete(k)) this.map.set(k, v)
    this.counters.hits++
    this.counters.hitBytes += v.length
    return v
  }

  /** Lookup without touching recency or counters (blocks here are held, not stored: nothing to verify). */
  verifySync(key: Uint8Array): Uint8Array | undefined {
    return this.lookup(keyString(key))
  }

  private lookup(k: string): Uint8Array | undefined {
    return this.map.get(k) ?? this.passed.get(k) ?? (this.planned.size > 0 ? this.planned.get(k) : undefined)
  }

  copyInto(key: Uint8Array, target: Uint8Array, targetOffset: number, from: number, to: number, expectedLength: number): boolean {
    const block = this.getSync(key)
    if (block === undefined || block.length !== expectedLength) return false
    target.set(block.subarray(from, to), targetOffset)
    return true
  }

  /** Marks a block as read past by a sequential reader: it becomes the first to be evicted. */
  markPassed(key: Uint8Array): void {
    const k = keyString(key)
    const v = this.map.get(k)
    if (v === undefined) return
    this.map.delete(k)
    this.passed.set(k, v)
  }

  async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => this.getSync(key))
  }

  has(key: Uint8Array): boolean {
    return this.lookup(keyString(key)) !== undefined
  }

  /**
   * Follows a read plan (undefined: none). The blocks it reads leave the LRU queues for the
   * plan's order; the blocks of a plan that ends or is replaced go back to them.
   */
  followPlan(plan: EvictionPlan | undefined, role: PlanRole = 'keep'): void {
    this.plan?.residents.close()
    for (const [k, v] of this.planned) this.map.set(k, v)
    this.planned.clear()
    this.plan = plan && { order: plan, residents: plan.residents(), role }
    if (this.plan === undefined) return
    for (const queue of [this.passed, this.map]) {
      for (const [k, v] of queue) {
        if (!(this.plan.order.nextUse(k) < Infinity)) continue
        queue.delete(k)
        this.planned.set(k, v)
        this.plan.residents.add(k)
      }
    }
  }

  putSync(key: Uint8Array, bytes: Uint8Array): boolean {
    if (bytes.length > this.maxBytes) {
      this.counters.droppedFills++
      return false
    }
    const k = keyString(key)
    this.remove(k)
    const plan = this.plan
    const nextUse = plan === undefined ? Infinity : plan.order.nextUse(k)
    const judgedBy = plan === undefined ? Infinity : this.judgedBy(k)
    // Plan blocks this fill takes out, evicted for good only once it is stored: a fill the plan
    // refuses after taking some out puts them back, so a refusal never leaves the tier poorer.
    // (Blocks outside the plan go first and stay gone: under a plan they are the first victims anyway.)
    const planVictims: [string, Uint8Array][] = []
    while (this.used + bytes.length > this.maxBytes) {
      const queue = this.passed.size > 0 ? this.passed : this.map
      const victim = queue.keys().next().value
      if (victim === undefined && plan !== undefined) {
        const furthest = plan.residents.furthest((ks) => this.planned.has(ks))
        if (furthest === undefined) break
        // Belady: the block read last stays out, and that may be this one.
        if (!(furthest.nextUse > judgedBy)) {
          for (const [ks, held] of planVictims) {
            this.planned.set(ks, held)
            this.used += held.length
            plan.residents.add(ks)
          }
          this.counters.droppedFills++
          return false
        }
        const held = this.planned.get(furthest.ks)!
        this.planned.delete(furthest.ks)
        this.used -= held.length
        planVictims.push([furthest.ks, held])
        continue
      }
      if (victim === undefined) break
      this.used -= queue.get(victim)!.length
      this.forget(victim)
      queue.delete(victim)
      this.counters.evictions++
      this.onEvict?.(victim)
    }
    for (const [ks] of planVictims) {
      plan!.residents.delete(ks)
      this.forget(ks)
      this.counters.evictions++
      this.onEvict?.(ks)
    }
    if (nextUse < Infinity) {
      this.planned.set(k, bytes)
      plan!.residents.add(k)
    } else this.map.set(k, bytes)
    this.used += bytes.length
    const id = k.slice(0, OBJECT_ID_BYTES)
    this.blocksPerObject.set(id, (this.blocksPerObject.get(id) ?? 0) + 1)
    return true
  }

  /** When a fill of this block is next read, as the plan's role for this tier counts it. */
  private judgedBy(k: string): number {
    const plan = this.plan!
    return plan.role === 'stage' ? plan.order.nextUse(k) : plan.order.useAfterNext(k)
  }

  /** Under a plan: whether a fill of this block would be kept now (room, a block outside the plan, or one read later). */
  wouldKeep(key: Uint8Array, bytes: number): boolean {
    if (this.plan === undefined || this.used + bytes <= this.maxBytes || this.map.size + this.passed.size > 0) return true
    const furthest = this.plan.residents.furthest((ks) => this.planned.has(ks))
    return furthest === undefined || furthest.nextUse > this.judgedBy(keyString(key))
  }

  /** Whether any block of the object with this id (a key string of OBJECT_ID_BYTES) is here. */
  holdsObject(id: string): boolean {
    return this.blocksPerObject.has(id)
  }

  /** Drops a block's per-object count and its plan residence; the caller removes it from its queue. */
  private forget(k: string): void {
    if (this.planned.size > 0 && this.planned.delete(k)) this.plan?.residents.delete(k)
    const id = k.slice(0, OBJECT_ID_BYTES)
    const n = this.blocksPerObject.get(id) ?? 0
    if (n <= 1) this.blocksPerObject.delete(id)
    else this.blocksPerObject.set(id, n - 1)
  }

  async put(key: Uint8Array, bytes: Uint8Array): Promise<boolean> {
    return this.putSync(key, bytes)
  }

  countDroppedFill(): void {
    this.counters.droppedFills++
  }

  async delete(key: Uint8Array): Promise<boolean> {
    return this.remove(keyString(key))
  }

  private remove(k: string): boolean {
    const v = this.lookup(k)
    if (v === undefined) return false
    if (!this.map.delete(k)) this.passed.delete(k)
    this.forget(k)
    this.used -= v.length
    return true
  }

  async deletePrefix(prefix: Uint8Array): Promise<number> {
    const p = keyString(prefix)
    let n = 0
    for (const queue of [this.map, this.passed, this.planned]) {
      for (const [k, v] of queue) {
        if (!k.startsWith(p)) continue
        this.forget(k)
        queue.delete(k)
        this.used -= v.length
        n++
      }
    }
    return n
  }

  usage() {
    return { usedBytes: this.used, maxBytes: this.maxBytes, entries: this.map.size + this.passed.size + this.planned.size }
  }

  stats(): TierStats {
    return { ...this.counters, usedBytes: this.used, entries: this.map.size + this.passed.size + this.planned.size }
  }

  async clear(): Promise<void> {
    for (const k of this.planned.keys()) this.plan?.residents.delete(k)
    this.planned.clear()
    this.map.clear()
    this.passed.clear()
    this.blocksPerObject.clear()
    this.used = 0
  }

  async close(): Promise<void> {
    this.followPlan(undefined)
    this.map.clear()
    this.passed.clear()
    this.blocksPerObject.clear()
    this.used = 0
  }
}
