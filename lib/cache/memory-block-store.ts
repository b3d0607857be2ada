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
 */
import { OBJECT_ID_BYTES, keyString } from './block-key.js'
import { newTierStats, type BlockStore } from './block-store.js'
import type { TierStats } from '../types.js'

export class MemoryBlockStore implements BlockStore {
  readonly name = 'memory'
  readonly locality = 'local'
  private readonly map = new Map<string, Uint8Array>()
  /** Blocks a sequential reader has moved past, oldest first: evicted before `map`. */
  private readonly passed = new Map<string, Uint8Array>()
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
    const v = this.map.get(k) ?? this.passed.get(k)
    if (v === undefined) {
      this.counters.misses++
      return undefined
    }
    if (!this.map.delete(k)) this.passed.delete(k)
    this.map.set(k, v)
    this.counters.hits++
    this.counters.hitBytes += v.length
    return v
  }

  /** Lookup without touching recency or counters (blocks here are held, not stored: nothing to verify). */
  verifySync(key: Uint8Array): Uint8Array | undefined {
    const k = keyString(key)
    return this.map.get(k) ?? this.passed.get(k)
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
    const k = keyString(key)
    return this.map.has(k) || this.passed.has(k)
  }

  putSync(key: Uint8Array, bytes: Uint8Array): boolean {
    if (bytes.length > this.maxBytes) {
      this.counters.droppedFills++
      return false
    }
    const k = keyString(key)
    this.remove(k)
    while (this.used + bytes.length > this.maxBytes) {
      const queue = this.passed.size > 0 ? this.passed : this.map
      const oldest = queue.keys().next()
      if (oldest.done) break
      const victim = queue.get(oldest.value)!
      queue.delete(oldest.value)
      this.forget(oldest.value)
      this.used -= victim.length
      this.counters.evictions++
      this.onEvict?.(oldest.value)
    }
    this.map.set(k, bytes)
    this.used += bytes.length
    const id = k.slice(0, OBJECT_ID_BYTES)
    this.blocksPerObject.set(id, (this.blocksPerObject.get(id) ?? 0) + 1)
    return true
  }

  /** Whether any block of the object with this id (a key string of OBJECT_ID_BYTES) is here. */
  holdsObject(id: string): boolean {
    return this.blocksPerObject.has(id)
  }

  private forget(k: string): void {
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
    const v = this.map.get(k) ?? this.passed.get(k)
    if (v === undefined) return false
    if (!this.map.delete(k)) this.passed.delete(k)
    this.forget(k)
    this.used -= v.length
    return true
  }

  async deletePrefix(prefix: Uint8Array): Promise<number> {
    const p = keyString(prefix)
    let n = 0
    for (const queue of [this.map, this.passed]) {
      for (const [k, v] of queue) {
        if (!k.startsWith(p)) continue
        queue.delete(k)
        this.forget(k)
        this.used -= v.length
        n++
      }
    }
    return n
  }

  usage() {
    return { usedBytes: this.used, maxBytes: this.maxBytes, entries: this.map.size + this.passed.size }
  }

  stats(): TierStats {
    return { ...this.counters, usedBytes: this.used, entries: this.map.size + this.passed.size }
  }

  async clear(): Promise<void> {
    this.map.clear()
    this.passed.clear()
    this.blocksPerObject.clear()
    this.used = 0
  }

  async close(): Promise<void> {
    this.map.clear()
    this.passed.clear()
    this.blocksPerObject.clear()
    this.used = 0
  }
}
