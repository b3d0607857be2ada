/**
 * The disk tier over several directories (`disk.dirs`, one per local disk, say): one
 * LmdbBlockStore per directory, each with its own bound, admission, health and counts, seen
 * by the composition as one local tier. With one directory the composition holds the
 * LmdbBlockStore itself; this class exists only for two or more.
 *
 * Placement: a block lives in one directory, its home by weighted rendezvous hashing of its
 * key (disk-placement.ts), so a restart with the same directories finds every block where it
 * put it, and each directory takes a share of the blocks in proportion to its bound.
 *
 * Failure: each directory has its own TierHealth. A directory that fails (unwritable, full,
 * I/O errors) is bypassed for its cool-down while the others serve: a fill that fails there,
 * or that finds its home bypassed, goes to the next directory in the block's order, and no
 * reader sees the error. Only when every directory fails does a fill reject, so that the
 * composition bypasses the tier as a whole as it would one failing directory. A directory
 * that cannot be opened at all (a file where it should be, a refused path, LMDB failing)
 * stays out until the reader is made again, with the reason in its stats; `init` rejects
 * only when no directory opened.
 *
 * Reads: a block may live past its home (written while its home was failing, or placed by
 * another list of directories), so a lookup asks the directories in the block's order with
 * `has` (an index lookup, no read) and reads from the first that holds it. A miss is counted
 * once, by the block's home, so the tier's counts mean what one directory's would.
 *
 * Deletions reach every directory that opened, whatever its health: a block of an evicted
 * or changed object must not stay anywhere. The object catalogue merges the directories'
 * own (disk-set-catalog.ts).
 */
import { CacheError } from '../errors.js'
import { newTierStats, type BlockStore, type CachedObjectRecord, type ObjectCatalog, type TierUsage } from './block-store.js'
import { DiskSetCatalog } from './disk-set-catalog.js'
import type { EvictionPlan, PlanRole } from './eviction-plan.js'
import { Placement } from './disk-placement.js'
import { LmdbBlockStore } from './lmdb-block-store.js'
import { addTo } from './recorded-counts.js'
import { TierHealth, type TierHealthOptions } from './tier-health.js'
import type { DiskDirStats, RecordedCounts, TierStats } from '../types.js'

export interface DiskSetOptions {
  /** The directories with their bounds in bytes; at least two, distinct. */
  dirs: { path: string; maxBytes: number }[]
  /** Expected block size in bytes; sizes each directory's admission sketch. */
  blockSize: number
  /** Write fills on a thread of their own, one per directory. Default false. */
  writerThread?: boolean
  /** When a directory is bypassed, and for how long. */
  health?: TierHealthOptions
}

/** One directory: its store while it is open, and its health. */
class DiskDir {
  readonly health: TierHealth
  store: LmdbBlockStore | undefined
  /** Once closed, its stats come from the store's last report and this count: LMDB is gone. */
  private closedObjects: number | undefined
  private closed = false

  constructor(
    readonly path: string,
    readonly maxBytes: number,
    options: DiskSetOptions,
  ) {
    this.health = new TierHealth(options.health)
    try {
      this.store = new LmdbBlockStore({ path, maxBytes, blockSize: options.blockSize, writerThread: options.writerThread })
    } catch (err) {
      this.health.failure(err instanceof CacheError ? err : new CacheError('disk', `cannot open cache directory ${path}: ${(err as Error).message}`, err))
    }
  }

  usable(): boolean {
    return this.store !== undefined && !this.closed && this.health.usable()
  }

  /** Object records in this directory. */
  objects(): number | undefined {
    return this.closed ? this.closedObjects : this.guard(undefined, (s) => s.objectCount())
  }

  async close(): Promise<void> {
    if (this.store === undefined || this.closed) return
    this.closedObjects = this.objects()
    this.closed = true
    await this.store.close()
  }

  /** `call` on the store whatever its health (a bypassed directory still holds blocks); `fallback` if it throws. */
  opened<T>(fallback: T, call: (store: LmdbBlockStore) => T): T {
    if (this.store === undefined) return fallback
    try {
      return call(this.store)
    } catch {
      return fallback
    }
  }

  /**
   * A lookup on the store; `fallback` when closed out, bypassed or failed. A failure counts,
   * a success does not: reads that work say nothing of writes, and a full directory read
   * between its failing fills must still reach its bypass. A stored fill makes it healthy.
   */
  guard<T>(fallback: T, call: (store: LmdbBlockStore) => T): T {
    const store = this.store
    if (store === undefined || !this.health.usable()) return fallback
    try {
      return call(store)
    } catch (err) {
      this.health.failure(err)
      return fallback
    }
  }

  /** Checks the format (lmdb-block-store.ts); a directory that cannot be made ready is closed out. */
  async init(): Promise<void> {
    try {
      await this.store?.init()
    } catch (err) {
      this.health.failure(err)
      const store = this.store
      this.store = undefined
      await store?.close().catch(() => {})
    }
  }

  stats(): DiskDirStats {
    if (this.store === undefined) {
      const lastError = this.health.lastError
      return { ...newTierStats('disk', this.maxBytes), path: this.path, errors: this.health.errors, healthy: false, ...(lastError === undefined ? {} : { lastError }) }
    }
    const objects = this.objects()
    return this.health.report({ ...this.store.stats(), path: this.path, ...(objects === undefined ? {} : { objects }) })
  }
}

export class DiskSet implements BlockStore {
  readonly name = 'disk'
  readonly locality = 'local'
  readonly catalog: ObjectCatalog
  private readonly dirs: DiskDir[]
  private readonly placement: Placement

  constructor(options: DiskSetOptions) {
    this.placement = new Placement(options.dirs)
    this.dirs = options.dirs.map((d) => new DiskDir(d.path, d.maxBytes, options))
    this.catalog = new DiskSetCatalog({
      each: (fallback, call) => this.dirs.flatMap((d) => (d.usable() ? [d.guard(fallback, (s) => call(s.catalog))] : [])),
      eachOpened: (fallback, call) => this.dirs.flatMap((d) => (d.store === undefined ? [] : [d.opened(fallback, (s) => call(s.catalog))])),
      objectCount: () => this.dirs.reduce((n, d) => n + (d.objects() ?? 0), 0),
    })
  }

  /** Readies every directory that opened; rejects with the reasons when none can be used. */
  async init(): Promise<void> {
    await Promise.all(this.dirs.map((d) => d.init()))
    if (this.dirs.some((d) => d.store !== undefined)) return
    const reasons = this.dirs.map((d) => `${d.path}: ${d.health.lastError ?? 'not opened'}`).join('; ')
    throw new CacheError('disk', `no cache directory can be used (${reasons})`)
  }

  /** The first usable directory in the key's order that holds the block. */
  private holder(order: number[], key: Uint8Array): DiskDir | undefined {
    for (const i of order) {
      const dir = this.dirs[i]!
      if (dir.usable() && dir.guard(false, (s) => s.has(key))) return dir
    }
    return undefined
  }

  /** The directory a block goes to now: its home, or the next usable one while its home is bypassed. */
  private target(order: number[]): DiskDir | undefined {
    for (const i of order) if (this.dirs[i]!.usable()) return this.dirs[i]
    return undefined
  }

  /** One counted lookup: in the directory that holds the block, else (a miss) in its target. */
  private lookup<T>(key: Uint8Array, miss: T, read: (store: LmdbBlockStore) => T): T {
    const order = this.placement.order(key)
    const dir = this.holder(order, key) ?? this.target(order)
    return dir === undefined ? miss : dir.guard(miss, read)
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.lookup(key, undefined, (s) => s.getSync(key))
  }

  copyInto(key: Uint8Array, target: Uint8Array, targetOffset: number, from: number, to: number, expectedLength: number): boolean {
    return this.lookup(key, false, (s) => s.copyInto(key, target, targetOffset, from, to, expectedLength))
  }

  has(key: Uint8Array): boolean {
    return this.holder(this.placement.order(key), key) !== undefined
  }

  verifySync(key: Uint8Array): Uint8Array | undefined {
    return this.holder(this.placement.order(key), key)?.guard(undefined, (s) => s.verifySync(key))
  }

  /**
   * Every directory evicts by the reader's plan: each judges the blocks it holds, so a plan
   * over several directories is Belady's rule within each directory's share of the blocks.
   */
  followPlan(plan: EvictionPlan | undefined, role: PlanRole): void {
    for (const dir of this.dirs) dir.store?.followPlan(plan, role)
  }

  /** Whether the directory a fill of the block would go to would keep it until its next use. */
  wouldKeep(key: Uint8Array, bytes: number): boolean {
    const dir = this.target(this.placement.order(key))
    return dir === undefined ? false : dir.guard(true, (s) => s.wouldKeep(key, bytes))
  }

  /** A use the memory tier answered, counted by the directory that holds the block. */
  noteUse(key: Uint8Array): void {
    this.holder(this.placement.order(key), key)?.guard(undefined, (s) => s.noteUse(key))
  }

  async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => this.getSync(key))
  }

  /** Pages blocks in, each in the directory that holds it. Never rejects: a failure counts against its directory. */
  async pageIn(keys: Uint8Array[]): Promise<void> {
    const byDir = new Map<DiskDir, Uint8Array[]>()
    for (const key of keys) {
      const dir = this.holder(this.placement.order(key), key)
      if (dir === undefined) continue
      const list = byDir.get(dir)
      if (list === undefined) byDir.set(dir, [key])
      else list.push(key)
    }
    await Promise.all([...byDir].map(([dir, list]) => dir.store!.pageIn(list).catch((err: unknown) => dir.health.failure(err))))
  }

  /**
   * Stores a block in its home, or in the next directory in its order that takes it while
   * the ones before fail. A refusal (admission, size) is the directory's answer, not a
   * failure: the block is not offered to another. Rejects only when no directory could try.
   */
  async put(key: Uint8Array, bytes: Uint8Array, object?: CachedObjectRecord): Promise<boolean> {
    const failures: string[] = []
    for (const i of this.placement.order(key)) {
      const dir = this.dirs[i]!
      if (!dir.usable()) continue
      try {
        const stored = await dir.store!.put(key, bytes, object)
        dir.health.success()
        return stored
      } catch (err) {
        dir.health.failure(err)
        failures.push(`${dir.path}: ${(err as Error)?.message ?? String(err)}`)
      }
    }
    throw new CacheError('disk', failures.length > 0 ? `no cache directory could store the block (${failures.join('; ')})` : 'every cache directory is bypassed after errors')
  }

  /** Runs `call` on every directory that opened, counting failures against each; the results of those that answered. */
  private async everywhere<T>(call: (store: LmdbBlockStore) => Promise<T>, errors?: unknown[]): Promise<T[]> {
    const out: T[] = []
    for (const dir of this.dirs) {
      if (dir.store === undefined) continue
      try {
        out.push(await call(dir.store))
      } catch (err) {
        dir.health.failure(err)
        errors?.push(err)
      }
    }
    return out
  }

  async delete(key: Uint8Array): Promise<boolean> {
    return (await this.everywhere((s) => s.delete(key))).includes(true)
  }

  async deletePrefix(prefix: Uint8Array): Promise<number> {
    return (await this.everywhere((s) => s.deletePrefix(prefix))).reduce((a, b) => a + b, 0)
  }

  /** Empties every directory; rejects with the first failure once each was tried. */
  async clear(): Promise<void> {
    const errors: unknown[] = []
    await this.everywhere((s) => s.clear(), errors)
    if (errors.length > 0) throw errors[0]
  }

  /** The write-behind bound is the tier's, not a directory's: counted by the first usable one, so it is recorded. */
  countDroppedFill(): void {
    ;(this.dirs.find((d) => d.usable()) ?? this.dirs.find((d) => d.store !== undefined))?.store!.countDroppedFill()
  }

  /** Usage summed over the directories that opened. */
  usage(): TierUsage {
    const total = { usedBytes: 0, maxBytes: 0, entries: 0 }
    for (const dir of this.dirs) {
      const u = dir.store?.usage()
      if (u === undefined) continue
      total.usedBytes += u.usedBytes
      total.maxBytes += u.maxBytes
      total.entries += u.entries
    }
    return total
  }

  /**
   * The tier's stats: counts summed over the directories, usage over those that opened,
   * healthy while any directory is, the error of the first failing one, and each directory's
   * own in `dirs`.
   */
  stats(): TierStats {
    const dirs = this.dirs.map((d) => d.stats())
    const total: TierStats = { ...newTierStats('disk', 0), ...this.usage(), healthy: dirs.some((d) => d.healthy) }
    for (const d of dirs) {
      total.hits += d.hits
      total.misses += d.misses
      total.hitBytes += d.hitBytes
      total.evictions += d.evictions
      total.droppedFills += d.droppedFills
      total.errors += d.errors
    }
    const failing = dirs.find((d) => !d.healthy && d.lastError !== undefined) ?? dirs.find((d) => d.lastError !== undefined)
    const recorded = sumRecorded(dirs.map((d) => d.recorded))
    return { ...total, ...(failing ? { lastError: `${failing.path}: ${failing.lastError}` } : {}), ...(recorded ? { recorded } : {}), dirs }
  }

  /** Closes every directory; rejects with the first failure once each was tried. */
  async close(): Promise<void> {
    const errors: unknown[] = []
    for (const dir of this.dirs) await dir.close().catch((err: unknown) => errors.push(err))
    if (errors.length > 0) throw errors[0]
  }
}

/** The directories' recorded counts added up, since the earliest. */
function sumRecorded(list: (RecordedCounts | undefined)[]): RecordedCounts | undefined {
  let sum: RecordedCounts | undefined
  for (const r of list) {
    if (r === undefined) continue
    sum = sum === undefined ? r : { ...addTo(sum, r, r.sinceMs), sinceMs: Math.min(sum.sinceMs, r.sinceMs) }
  }
  return sum
}
