/**
 * The memory tier: a byte-bounded LRU of blocks. A JS Map keeps insertion order, so moving a
 * hit to the end is a delete and a set, and the oldest entry is the first one iterated.
 *
 * Plain LRU is right here: the memory tier is small, holds what is being read now and what
 * prefetch put just ahead of the reader, and the disk tier below it is the one that has to
 * survive looping epochs (see lmdb-block-store.ts). Blocks are held by reference (no copy);
 * callers never mutate them.
 */
import { keyString } from './block-key.js'
import { newTierStats, type BlockStore } from './block-store.js'
import type { TierStats } from '../types.js'

export class MemoryBlockStore implements BlockStore {
  readonly name = 'memory'
  private readonly map = new Map<string, Uint8Array>()
  private used = 0
  private readonly counters: TierStats
  /** Called with each key string evicted to make room (not on explicit deletes). */
  onEvict: ((key: string) => void) | undefined

  constructor(readonly maxBytes: number) {
    this.counters = newTierStats('memory', maxBytes)
  }

  /** Synchronous lookup, for the hot path. */
  getSync(key: Uint8Array): Uint8Array | undefined {
    const k = keyString(key)
    const v = this.map.get(k)
    if (v === undefined) {
      this.counters.misses++
      return undefined
    }
    this.map.delete(k)
    this.map.set(k, v)
    this.counters.hits++
    this.counters.hitBytes += v.length
    return v
  }

  /** Lookup without touching recency or counters. */
  peek(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(keyString(key))
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.getSync(key)
  }

  has(key: Uint8Array): boolean {
    return this.map.has(keyString(key))
  }

  putSync(key: Uint8Array, bytes: Uint8Array): boolean {
    if (bytes.length > this.maxBytes) {
      this.counters.droppedFills++
      return false
    }
    const k = keyString(key)
    const old = this.map.get(k)
    if (old !== undefined) {
      this.used -= old.length
      this.map.delete(k)
    }
    while (this.used + bytes.length > this.maxBytes) {
      const oldest = this.map.keys().next()
      if (oldest.done) break
      const victim = this.map.get(oldest.value)!
      this.map.delete(oldest.value)
      this.used -= victim.length
      this.counters.evictions++
      this.onEvict?.(oldest.value)
    }
    this.map.set(k, bytes)
    this.used += bytes.length
    return true
  }

  async put(key: Uint8Array, bytes: Uint8Array): Promise<boolean> {
    return this.putSync(key, bytes)
  }

  async delete(key: Uint8Array): Promise<boolean> {
    const k = keyString(key)
    const v = this.map.get(k)
    if (v === undefined) return false
    this.map.delete(k)
    this.used -= v.length
    return true
  }

  async deletePrefix(prefix: Uint8Array): Promise<number> {
    const p = keyString(prefix)
    let n = 0
    for (const [k, v] of this.map) {
      if (!k.startsWith(p)) continue
      this.map.delete(k)
      this.used -= v.length
      n++
    }
    return n
  }

  usage() {
    return { usedBytes: this.used, maxBytes: this.maxBytes, entries: this.map.size }
  }

  stats(): TierStats {
    return { ...this.counters, usedBytes: this.used, entries: this.map.size }
  }

  async close(): Promise<void> {
    this.map.clear()
    this.used = 0
  }
}
