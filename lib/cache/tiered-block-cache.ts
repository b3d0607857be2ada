/**
 * An ordered list of tiers as one cache, behind the same BlockStore seam each tier has. The
 * reader talks to this composition only; adding a tier is one entry in the list.
 *
 * Lookups ask the tiers in order, the fastest first, and promote a hit into the tiers above
 * the one that had it. Local tiers (memory, LMDB) are asked synchronously; remote ones (the
 * cluster tier) only by `getMany`, which the fetch path calls before going to the source.
 *
 * Fills go into inline tiers (memory) at once and into write-behind tiers (LMDB, the cluster
 * tier) behind the reader, each through its own budget of bytes in flight: a slow disk or a
 * slow network must never slow a read, so past the budget a fill is dropped and counted (the
 * block is simply fetched again next time). A block whose fill is still queued is served from
 * the queue: with a memory tier too small to keep it (or none), it would otherwise be in no
 * tier between leaving the reader's in-flight map and landing, and a read in that gap would
 * fetch it again.
 *
 * Each tier has a TierHealth: repeated errors bypass it for a while and show up in stats; the
 * reader carries on from the next tier or the source. Nothing here throws to a reader
 * because of a tier.
 */
import { keyString } from './block-key.js'
import type { BlockStore, CachedObjectRecord, ObjectCatalog, TierUsage } from './block-store.js'
import type { EvictionPlan } from './eviction-plan.js'

export type { TierSpec } from './tier.js'
import { SharedTiers } from './shared-tiers.js'
import { Tier, type TierSpec } from './tier.js'
import type { TierStats } from '../types.js'

export interface FillOptions {
  /** The object the block belongs to, for tiers that keep records of objects. */
  object?: CachedObjectRecord
  /** Await every write-behind fill and never drop one for its budget (preload). */
  durable?: boolean
  /** Fill the inline tiers (memory) too. Default true. */
  memory?: boolean
  /** Fill only the tiers above this index (the tier that served the block). */
  above?: number
  /**
   * Which tiers to fill: 'local' (this node's), 'remote' (shared with other nodes: the fetch
   * path publishes there itself, so it can release a block's fill lease once it has), or
   * both. Default 'all'.
   */
  tiers?: 'all' | 'local' | 'remote'
}

/** Where a block is now: in a tier that answers at once, in one that must page it in first, or in no local tier. */
export type Residence = 'fast' | 'paged' | undefined

export class TieredBlockCache implements BlockStore {
  readonly name = 'tiered'
  readonly locality = 'local'
  private readonly tiers: Tier[]
  private readonly local: Tier[]
  private readonly remote: Tier[]
  private readonly pending = new Set<Promise<unknown>>()

  constructor(specs: TierSpec[]) {
    this.tiers = specs.map((spec, i) => new Tier(spec.store, i, spec))
    this.local = this.tiers.filter((t) => t.local)
    this.remote = this.tiers.filter((t) => !t.local)
    this.shared = this.remote.length > 0 ? new SharedTiers(this.remote) : undefined
  }

  /** Counts a failure of a tier seen outside the composition (a tier that could not open): it is bypassed for its cool-down. */
  reportFailure(store: BlockStore, err: unknown): void {
    this.tiers.find((t) => t.store === store)?.health.failure(err)
  }

  /** Whether any tier keeps blocks across restarts (has an object catalogue): the disk tier. */
  get persistent(): boolean {
    return this.tiers.some((t) => t.store.catalog !== undefined)
  }

  /** The tiers shared with other nodes (the cluster tier), when there are any. */
  readonly shared: SharedTiers | undefined

  /** The catalogue of the first tier that keeps one, while that tier is usable. */
  get catalog(): ObjectCatalog | undefined {
    const tier = this.tiers.find((t) => t.store.catalog !== undefined)
    return tier && tier.health.usable() ? tier.store.catalog : undefined
  }

  /** The verified block from the fastest local tier that has it, promoted upward; undefined on a miss. */
  getSync(key: Uint8Array): Uint8Array | undefined {
    const ks = keyString(key)
    for (const tier of this.local) {
      const queued = tier.queued(ks)
      if (queued !== undefined) return queued
      const block = tier.guard(undefined, () => tier.store.getSync(key))
      if (block !== undefined) {
        if (tier.index > 0) void this.fill(key, block, { above: tier.index })
        else this.noteUseBelow(key)
        return block
      }
    }
    return undefined
  }

  /**
   * Copies `[from, to)` of a cached block into `target`. A hit in the first tier is copied
   * straight out of it (out of LMDB's read buffer when the disk tier is first: no allocation);
   * a hit further down is read whole and promoted, unless the read takes the whole block.
   * `scope: 'fast'` asks only the tiers that
   * need no page-in, and counts no miss there (the caller's full pass or a fetch follows).
   */
  copyInto(key: Uint8Array, target: Uint8Array, targetOffset: number, from: number, to: number, expectedLength: number, scope: 'all' | 'fast' = 'all'): boolean {
    const ks = keyString(key)
    for (const tier of this.local) {
      const queued = tier.queued(ks)
      if (queued !== undefined) {
        if (queued.length !== expectedLength) return false
        target.set(queued.subarray(from, to), targetOffset)
        return true
      }
      if (scope === 'fast' && (tier.pageable || !tier.store.has(key))) continue
      // A read that takes the whole block has consumed it: promoting it would cost a new
      // buffer and a second copy for a block a sequential reader drops behind at once (the
      // restart rows of `node dist/bench/data-path.js`). Partial reads promote: the rest follows.
      if (tier.index === 0 || (from === 0 && to === expectedLength)) {
        if (!tier.guard(false, () => tier.store.copyInto(key, target, targetOffset, from, to, expectedLength))) continue
        // A read from a block's start is one use of it (the reads after it in the block are not).
        if (tier.index === 0 && from === 0) this.noteUseBelow(key)
        return true
      }
      const block = tier.guard(undefined, () => tier.store.getSync(key))
      if (block === undefined) continue
      void this.fill(key, block, { above: tier.index })
      if (block.length !== expectedLength) return false
      target.set(block.subarray(from, to), targetOffset)
      return true
    }
    return false
  }

  has(key: Uint8Array): boolean {
    return this.locate(key) !== undefined
  }

  /** Which kind of local tier holds the block, if any (see Residence). */
  locate(key: Uint8Array): Residence {
    const ks = keyString(key)
    for (const tier of this.local) {
      if (tier.queued(ks) !== undefined) return 'fast'
      if (tier.guard(false, () => tier.store.has(key))) return tier.pageable ? 'paged' : 'fast'
    }
    return undefined
  }

  /** Pages blocks in on the tiers that hold them, off the event loop. Never rejects. */
  pageIn(keys: Uint8Array[]): Promise<void> {
    const waits: Promise<void>[] = []
    for (const tier of this.local) {
      if (!tier.pageable || !tier.health.usable()) continue
      const here = keys.filter((key) => tier.guard(false, () => tier.store.has(key)))
      if (here.length === 0) continue
      waits.push(tier.store.pageIn!(here).catch((err: unknown) => tier.health.failure(err)))
    }
    return waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => {})
  }

  /**
   * Blocks from every tier, remote ones included: the local tiers first, then each remote
   * tier for what is still missing, in one round trip per tier. Hits are promoted into the
   * tiers above. A failing tier is counted and skipped: its blocks are misses.
   */
  async getMany(keys: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<(Uint8Array | undefined)[]> {
    const out = keys.map((key) => this.getSync(key))
    const missing: number[] = []
    for (let i = 0; i < out.length; i++) if (out[i] === undefined) missing.push(i)
    if (this.shared === undefined || missing.length === 0) return out
    const found = await this.shared.getRemote(missing.map((i) => keys[i]!), options)
    found.forEach((block, j) => {
      if (block === undefined) return
      const i = missing[j]!
      out[i] = block
      void this.fill(keys[i]!, block, { tiers: 'local' })
    })
    return out
  }

  put(key: Uint8Array, bytes: Uint8Array, object?: CachedObjectRecord): Promise<boolean> {
    return this.fill(key, bytes, object === undefined ? {} : { object })
  }

  /**
   * Stores a block in the tiers (those above `above` only, for a promotion). Inline tiers
   * take it now; write-behind tiers behind the caller, within their budgets. Resolves true
   * if the last local tier (the one that holds what is resident: disk, else memory) holds it,
   * once that tier's write landed; for `tiers: 'remote'`, once the remote tier's write landed
   * (the fetch path releases a block's fill lease only then).
   */
  fill(key: Uint8Array, bytes: Uint8Array, options: FillOptions = {}): Promise<boolean> {
    const limit = options.above ?? this.tiers.length
    const lastLocal = this.local[this.local.length - 1]
    let result: Promise<boolean> = Promise.resolve(false)
    const awaited: Promise<boolean>[] = []
    for (const tier of this.tiers) {
      if (tier.index >= limit) break
      if ((options.tiers === 'local' && !tier.local) || (options.tiers === 'remote' && tier.local)) continue
      let write: Promise<boolean>
      if (!tier.writeBehind) {
        if (options.memory === false) continue
        write = tier.guard(Promise.resolve(false), () => tier.store.put(key, bytes, options.object))
      } else {
        write = this.writeBehind(tier, key, bytes, options)
        if (options.durable) awaited.push(write)
      }
      if (tier === lastLocal || (options.tiers === 'remote' && !tier.local)) result = write
    }
    if (awaited.length === 0) return result
    return Promise.all(awaited).then(() => result)
  }

  private writeBehind(tier: Tier, key: Uint8Array, bytes: Uint8Array, options: FillOptions): Promise<boolean> {
    if (!tier.health.usable()) return Promise.resolve(false)
    if (!options.durable && tier.pendingBytes + bytes.length > tier.maxPendingBytes) {
      tier.store.countDroppedFill()
      return Promise.resolve(false)
    }
    tier.pendingBytes += bytes.length
    const ks = keyString(key)
    // Remote fills are not served from the queue: the local tiers above hold the block.
    if (tier.local) tier.writing.set(ks, bytes)
    const write = tier.store
      .put(key, bytes, options.object)
      .then(
        (stored) => {
          tier.health.success()
          return stored
        },
        (err: unknown) => {
          tier.health.failure(err)
          return false
        },
      )
      .finally(() => {
        tier.pendingBytes -= bytes.length
        this.pending.delete(write)
        if (tier.writing.get(ks) === bytes) tier.writing.delete(ks)
      })
    this.pending.add(write)
    return write
  }

  /** Waits for every fill queued so far (not those queued meanwhile: it must return under load). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending])
  }

  /** Deletes one block from every tier (a prefix scan would cost the cluster tier a SCAN of every master). */
  async delete(key: Uint8Array): Promise<boolean> {
    const ks = keyString(key)
    let removed = false
    for (const tier of this.tiers) {
      if (tier.writing.get(ks) !== undefined) tier.writing.delete(ks)
      try {
        if (await tier.store.delete(key)) removed = true
      } catch (err) {
        tier.health.failure(err)
      }
    }
    return removed
  }

  /** Deletes from every tier; resolves to the most blocks any one tier removed. */
  async deletePrefix(prefix: Uint8Array): Promise<number> {
    const ps = keyString(prefix)
    let most = 0
    for (const tier of this.tiers) {
      for (const ks of tier.writing.keys()) if (ks.startsWith(ps)) tier.writing.delete(ks)
      try {
        most = Math.max(most, await tier.store.deletePrefix(prefix))
      } catch (err) {
        tier.health.failure(err)
      }
    }
    return most
  }

  /**
   * Empties the local tiers. The remote tier is shared by every node of the cluster: one
   * node emptying it would make every node cold, so that is left to its operator.
   */
  async clear(): Promise<void> {
    await this.flush()
    for (const tier of this.local) {
      tier.writing.clear()
      await tier.store.clear()
    }
  }

  /** Tells the local tiers below the first of a use of the block served above them (noteUse). */
  private noteUseBelow(key: Uint8Array): void {
    for (let i = 1; i < this.local.length; i++) {
      const tier = this.local[i]!
      if (tier.store.noteUse !== undefined && tier.health.usable()) tier.guard(undefined, () => tier.store.noteUse!(key))
    }
  }

  markPassed(key: Uint8Array): void {
    for (const tier of this.local) tier.store.markPassed?.(key)
  }

  /**
   * Hands the reader's read plan (undefined: none) to the local tiers: the last one keeps,
   * those above it stage (eviction-plan.ts).
   */
  followPlan(plan: EvictionPlan | undefined): void {
    const last = this.local[this.local.length - 1]
    for (const tier of this.local) tier.store.followPlan?.(plan, tier === last ? 'keep' : 'stage')
  }

  /** Bytes of the tier that stages blocks fetched ahead until they are read (memory over disk); 0 without one. */
  get stagingBytes(): number {
    return this.local.length > 1 ? this.local[0]!.store.usage().maxBytes : 0
  }

  /** Under a plan: whether the keeping tier would keep a fill of this block now (true if it cannot say). */
  wouldKeep(key: Uint8Array, bytes: number): boolean {
    const last = this.local[this.local.length - 1]
    return last === undefined ? false : last.guard(true, () => last.store.wouldKeep?.(key, bytes) ?? true)
  }

  /** Whether a tier that counts blocks per object holds any block of this object id. */
  holdsObject(id: string): boolean {
    return this.tiers.some((t) => t.store.holdsObject?.(id) === true)
  }

  /**
   * The tier preload makes blocks resident in: the disk tier when there is one; else a tier
   * shared with other nodes (`sluice preload --cluster` warms the cluster for every node);
   * else memory.
   */
  get residenceTier(): 'local' | 'remote' {
    return !this.persistent && this.remote.length > 0 ? 'remote' : 'local'
  }

  /** Usage of the residence tier: the bound on what preload can make resident. */
  residenceUsage(): TierUsage {
    if (this.residenceTier === 'local') return this.usage()
    return this.remote[0]!.store.usage()
  }

  /**
   * Whether each block is resident in the residence tier: in a local tier, verified by its
   * checksum when `verify` (counting no hit), else only present; in a remote tier, present
   * (it verifies every value as it serves it). A failing tier answers false.
   */
  async residentMany(keys: Uint8Array[], options: { verify: boolean }): Promise<boolean[]> {
    if (this.residenceTier === 'local') {
      const tier = this.local[this.local.length - 1]
      if (tier === undefined) return keys.map(() => false)
      return keys.map((key) => tier.guard(false, () => (options.verify ? tier.store.verifySync?.(key) !== undefined : tier.store.has(key))))
    }
    const tier = this.remote[0]!
    if (!tier.health.usable()) return keys.map(() => false)
    try {
      const present = tier.store.containsMany ? await tier.store.containsMany(keys) : (await tier.store.getMany(keys)).map((b) => b !== undefined)
      tier.health.success()
      return present
    } catch (err) {
      tier.health.failure(err)
      return keys.map(() => false)
    }
  }

  countDroppedFill(): void {}

  /** Usage of the last local tier: the bound on what can be resident on this node. */
  usage(): TierUsage {
    return this.local[this.local.length - 1]?.store.usage() ?? { usedBytes: 0, maxBytes: 0, entries: 0 }
  }

  /** The composition's own stats are its tiers' (see tierStats). */
  stats(): TierStats {
    return { ...this.usage(), name: this.name, hits: 0, misses: 0, hitBytes: 0, evictions: 0, droppedFills: 0, errors: 0, healthy: true }
  }

  /** Each tier's stats, with the errors and bypass state its health saw. */
  tierStats(): TierStats[] {
    return this.tiers.map((tier) => {
      const objects = tier.store.catalog ? tier.guard(undefined, () => tier.store.catalog!.objectCount()) : undefined
      return tier.health.report({ ...tier.store.stats(), ...(objects === undefined ? {} : { objects }) })
    })
  }


  async close(): Promise<void> {
    await this.flush()
    const errors: unknown[] = []
    for (const tier of this.tiers) await tier.store.close().catch((err: unknown) => errors.push(err))
    if (errors.length > 0) throw errors[0]
  }
}
