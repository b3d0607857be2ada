/**
 * Whether prefetching paid off: blocks fetched ahead of any read, how many a read then used,
 * and how many were fetched for nothing (they left the memory tier unread, were fetched
 * again while still unread, or were still unread when the reader closed). Kept apart from
 * the fetch path so the numbers have one owner: after close,
 * issued = used + wasted + blocks whose fetch failed.
 */
import type { PrefetchStats } from '../types.js'

/** Prefetched blocks remembered for used/wasted accounting, at most. */
const MAX_TRACKED_PREFETCH = 65_536

export class PrefetchAccounting {
  issuedBlocks = 0
  usedBlocks = 0
  wastedBlocks = 0
  /** Prefetched blocks that landed and no read has used yet, by key string. */
  private readonly unread = new Set<string>()

  issued(blocks: number): void {
    this.issuedBlocks += blocks
  }

  /** A prefetched block a reader was already waiting for when it landed. */
  claimed(): void {
    this.usedBlocks++
  }

  /** A prefetched block landed with no reader waiting for it. */
  landedUnread(ks: string): void {
    // Fetched ahead again while still unread (it left every tier, or was evicted): the
    // earlier fetch went unused.
    if (this.unread.has(ks)) this.wastedBlocks++
    if (this.unread.size >= MAX_TRACKED_PREFETCH) {
      this.wastedBlocks += this.unread.size
      this.unread.clear()
    }
    this.unread.add(ks)
  }

  /** A read used a cached block: counts it if it was prefetched and still unread. */
  read(ks: string): void {
    if (this.unread.size > 0 && this.unread.delete(ks)) this.usedBlocks++
  }

  /** A block left the memory tier: if it was prefetched and never read, it was wasted. */
  evicted(ks: string): void {
    if (this.unread.delete(ks)) this.wastedBlocks++
  }

  /** The reader closed: whatever is still unread was fetched for nothing. */
  close(): void {
    this.wastedBlocks += this.unread.size
    this.unread.clear()
  }

  stats(): Pick<PrefetchStats, 'issuedBlocks' | 'usedBlocks' | 'wastedBlocks'> {
    return { issuedBlocks: this.issuedBlocks, usedBlocks: this.usedBlocks, wastedBlocks: this.wastedBlocks }
  }
}
