/**
 * Paging disk-tier blocks into memory off the event loop before they are read. An LMDB read
 * is a memory-mapped copy: on a block whose pages are not in the page cache it would stall
 * the event loop (and every FUSE request behind it) on disk I/O. So a read or a read-ahead
 * first asks LMDB's reader thread to touch the blocks' pages, and remembers that it did, so
 * a block paged in by read-ahead costs the read that follows no wait at all.
 */
import { blockKey, keyString } from './cache/block-key.js'
import type { TieredBlockCache } from './cache/tiered-block-cache.js'

/** Blocks remembered as paged in, at most (a hint: a stale entry only costs a stall). */
const MAX_TRACKED_PAGE_INS = 4096

export class PageIns {
  private readonly pagedIn = new Map<string, Promise<void>>()

  constructor(private readonly cache: TieredBlockCache) {}

  /** Whether the block was paged in, or is being paged in, already. */
  has(ks: string): boolean {
    return this.pagedIn.has(ks)
  }

  /**
   * Which of the object's blocks first..last are in some tier (`all`), and what to wait for
   * so the paged ones are in memory (`wait`: undefined when nothing needs paging, so callers
   * stay synchronous). Blocks paged in by read-ahead resolve at once; only cold ones wait.
   */
  plan(id: Uint8Array, first: number, last: number): { all: boolean; wait: Promise<unknown> | undefined } {
    const waits: Promise<unknown>[] = []
    const fresh: Uint8Array[] = []
    let all = true
    for (let i = first; i <= last; i++) {
      const key = blockKey(id, i)
      const residence = this.cache.locate(key)
      if (residence === 'fast') continue
      const pending = this.pagedIn.get(keyString(key))
      if (pending) waits.push(pending)
      else if (residence === 'paged') fresh.push(key)
      else all = false
    }
    if (fresh.length > 0) waits.push(this.start(fresh))
    return { all, wait: waits.length === 0 ? undefined : waits.length === 1 ? waits[0] : Promise.all(waits) }
  }

  /** Pages blocks in on the tiers' reader threads and remembers that it did. Never rejects. */
  start(keys: Uint8Array[]): Promise<void> {
    if (this.pagedIn.size > MAX_TRACKED_PAGE_INS) this.pagedIn.clear()
    const done = this.cache.pageIn(keys)
    for (const key of keys) this.pagedIn.set(keyString(key), done)
    return done
  }
}
