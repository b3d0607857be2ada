/**
 * The seam every cache tier implements. Keys are opaque binary block keys (see block-key.ts);
 * values are the block's bytes. A store that cannot keep a block says so (`put` resolves
 * false) rather than failing: the cache is advisory and a refused fill costs only a refetch.
 *
 * `get` must never return bytes it cannot vouch for: a tier that detects damage drops the
 * entry and reports a miss.
 */
import type { TierStats } from '../types.js'

export interface BlockStore {
  readonly name: string
  /** The block's bytes, or undefined on a miss. The returned buffer is never mutated afterwards. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Whether the block is present, without reading or verifying it. */
  has(key: Uint8Array): boolean
  /** Stores a block; resolves false when the store declined it (admission, space, errors). */
  put(key: Uint8Array, bytes: Uint8Array): Promise<boolean>
  delete(key: Uint8Array): Promise<boolean>
  /** Deletes every block whose key starts with `prefix`; resolves to how many were removed. */
  deletePrefix(prefix: Uint8Array): Promise<number>
  usage(): { usedBytes: number; maxBytes: number; entries: number }
  stats(): TierStats
  close(): Promise<void>
}

export function newTierStats(name: string, maxBytes: number): TierStats {
  return {
    name,
    hits: 0,
    misses: 0,
    hitBytes: 0,
    usedBytes: 0,
    maxBytes,
    entries: 0,
    evictions: 0,
    droppedFills: 0,
    errors: 0,
    healthy: true,
  }
}
