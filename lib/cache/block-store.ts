/**
 * The seam every cache tier implements, and the tiered cache implements again over an
 * ordered list of tiers. It is shaped by what the read path really calls:
 *
 * - a *local* tier (memory, LMDB) answers synchronously: `getSync`, `copyInto` and `has`
 *   never wait, so a hit costs no event-loop turn;
 * - a *remote* tier (the cluster tier) can only answer after a round trip: its synchronous
 *   lookups always miss, and the read path asks it with `getMany` (one round trip for a run
 *   of blocks) before it goes to the source.
 *
 * Keys are opaque binary block keys (block-key.ts); values are the block's bytes. A store that
 * cannot keep a block says so (`put` resolves false) rather than failing: the cache is
 * advisory and a refused fill costs only a refetch. A store never returns bytes it cannot
 * vouch for: a tier that detects damage drops the entry and reports a miss. Errors a tier
 * does throw (an I/O error, a lost connection) are the tiered cache's to count and to bypass
 * the tier for; they never reach a reader.
 *
 * Optional parts are capabilities a tier has or has not: an object catalogue (the disk tier's
 * record of what it holds, for outages and eviction by URL), fill leases (the cluster tier's
 * one-fetch-per-block across nodes), page-in (LMDB reading pages off the event loop).
 */
import type { ObjectInfo, TierStats } from '../types.js'
import type { EvictionPlan, PlanRole } from './eviction-plan.js'

/** What a tier may record about the object a block belongs to. */
export interface CachedObjectRecord {
  url: string
  version: string
  size: number
  blockSize: number
  /** The store's modification time, when it gave one (for the newest known version). */
  mtimeMs?: number
}

export interface TierUsage {
  usedBytes: number
  maxBytes: number
  entries: number
}

export interface BlockStore {
  readonly name: string
  /** 'local': answers lookups synchronously. 'remote': only through `getMany`. */
  readonly locality: 'local' | 'remote'
  /**
   * The block's verified bytes, or undefined on a miss (a remote tier always misses here).
   * Counts a hit or a miss. The returned buffer is never mutated afterwards.
   */
  getSync(key: Uint8Array): Uint8Array | undefined
  /**
   * Copies `[from, to)` of the verified block into `target` at `targetOffset` without keeping
   * it. False on a miss, or when the block does not have `expectedLength` bytes.
   */
  copyInto(key: Uint8Array, target: Uint8Array, targetOffset: number, from: number, to: number, expectedLength: number): boolean
  /** Whether the block is present, without reading or verifying it (a remote tier: false). */
  has(key: Uint8Array): boolean
  /** Several blocks, verified, in one round trip where the tier is remote. Counts hits and misses. */
  getMany(keys: Uint8Array[], options?: { signal?: AbortSignal }): Promise<(Uint8Array | undefined)[]>
  /** Stores a block; resolves false when the store declined it (admission, space). */
  put(key: Uint8Array, bytes: Uint8Array, object?: CachedObjectRecord): Promise<boolean>
  delete(key: Uint8Array): Promise<boolean>
  /** Deletes every block whose key starts with `prefix`; resolves to how many were removed. */
  deletePrefix(prefix: Uint8Array): Promise<number>
  /** Empties the tier. */
  clear(): Promise<void>
  /** Counts a fill the caller dropped before it reached this tier (the write-behind bound). */
  countDroppedFill(): void
  usage(): TierUsage
  stats(): TierStats
  close(): Promise<void>

  /** Reads blocks' pages into memory off the event loop, so a following `getSync` does not stall. */
  pageIn?(keys: Uint8Array[]): Promise<void>
  /** Counts a use of the block served by a tier above this one, when this tier holds it too. */
  noteUse?(key: Uint8Array): void
  /** Marks a block as read past by a sequential reader (the memory tier evicts those first). */
  markPassed?(key: Uint8Array): void
  /** A local tier's verified block without counting a hit or an access (preload's check). */
  verifySync?(key: Uint8Array): Uint8Array | undefined
  /** Whether any block of the object with this id (OBJECT_ID_BYTES latin1 characters) is here. */
  holdsObject?(id: string): boolean
  /** Evicts by the reader's read plan while it has one (undefined: back to the tier's own policy), in a role (eviction-plan.ts). */
  followPlan?(plan: EvictionPlan | undefined, role: PlanRole): void
  /** Under a plan, in the keeping role: whether a fill of this block (of `bytes`) would be kept now. */
  wouldKeep?(key: Uint8Array, bytes: number): boolean
  /** A remote tier's presence check of many blocks in one round trip, without reading them (preload). */
  containsMany?(keys: Uint8Array[]): Promise<boolean[]>
  /** The tier's record of the objects it holds blocks of. */
  readonly catalog?: ObjectCatalog
  /** One fill per block across every process that shares the tier. */
  readonly leases?: FillLeases
}

/** A tier's record of the objects it holds blocks of (the disk tier). */
export interface ObjectCatalog {
  /** The version of a URL most recently cached, if any of its blocks is here. */
  lastKnownVersion(url: string): ObjectInfo | undefined
  /** Last known versions of every URL under a prefix, sorted by URL. */
  lastKnownUnder(prefix: string): ObjectInfo[]
  /** Object ids (block-key prefixes) with blocks here for a URL, any version and block size. */
  objectsForUrl(url: string): Uint8Array[]
  /** Objects recorded. */
  objectCount(): number
}

/**
 * Fill leases: before a process fetches blocks from the source, it claims them; a claim that
 * another process holds means that process is fetching them now, and this one waits for the
 * value instead. A lease expires on its own, so a holder that dies costs a bounded wait.
 */
export interface FillLeases {
  /** Claims each block's lease; true where this process now holds it. */
  acquire(keys: Uint8Array[]): Promise<boolean[]>
  /** Gives up leases this process holds (after publishing, or after a failed fetch). */
  release(keys: Uint8Array[]): Promise<void>
  /**
   * Waits, bounded by the lease time, for blocks whose lease another process holds. Resolves
   * with the verified blocks, undefined where the value did not come (lease expired or the
   * tier failed): the caller fetches those itself.
   */
  waitFor(keys: Uint8Array[], options?: { signal?: AbortSignal }): Promise<(Uint8Array | undefined)[]>
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
