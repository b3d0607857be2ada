/**
 * The disk tier: blocks in one LMDB environment under `cacheDir`, which survives restarts
 * and is shared by every process on the node (LMDB serialises writers across processes and
 * gives readers consistent snapshots). Opening it reads three counters, never scans.
 *
 * This file owns the blocks themselves: lookups and their verification, where a fill runs,
 * deletion, page-in, and the tier's counters. The rest of the tier is in files of its own:
 * the on-disk layout and its list of databases (lmdb-layout.ts), the fill and deletion
 * transactions (lmdb-fill.ts), the object catalogue (lmdb-object-catalog.ts, `catalog`), and
 * the counts recorded for later processes (recorded-counts.ts).
 *
 * Every read verifies the header and CRC32C; a damaged block is dropped and reported as a
 * miss, so it is refetched and never served. Usage is updated in the same write transaction
 * as the blocks it counts, so it stays exact across processes and crashes. Fills run here by
 * default, or with `writerThread` on a thread of their own (disk-writer.ts), off the
 * reader's event loop: that thread holds the loop for less (2.1 against 4.6 ms per 4 MiB
 * fill) but costs a cold read 20-30% more CPU on two shared cores. Lookups, deletions and
 * bookkeeping always run here.
 *
 * Eviction and admission (admission-policy.ts has the rules, docs/design.md the figures):
 * training reads a dataset in the same order epoch after epoch, and under LRU a dataset
 * larger than the tier evicts each block just before it is needed again. Here blocks leave
 * in insertion order from two queues, probation and main (blocks proven by reuse), and once
 * the tier is full a fill must be asked for more often than its victim (TinyLFU), so a loop
 * over twice the tier keeps a resident half. New data is told apart: a block this process has
 * never seen displaces proven blocks beyond a protected share of the tier (15%), so a new
 * dataset that fits is resident after one epoch however often the old one was read, while
 * a one-off scan leaves a hot set of up to that share alone. While there is room every fill
 * is admitted; a winner evicts only the room it needs.
 *
 * The sketch counts a block once when it is filled and once per verified hit, not per miss:
 * a block the reader fetched ahead (and so never missed) and a block it found resident then
 * weigh the same per epoch, so a loop's resident half is not displaced by its other half.
 *
 * What is shared and what is per process. The queues, the boundary between them, main's
 * bytes and usage are in LMDB, changed only in fill and deletion transactions: every process
 * sees the same tier, its bound and main's byte count stay exact whoever fills, and a block
 * one process promoted is main for all. What a block is worth is per process: the sketch,
 * the blocks refused because of the protected share, and the current run of new data live
 * in this process's memory (shared with its writer thread) and start empty. A second process
 * (or this one restarted) has asked for none of the blocks already here, so they count
 * nothing in its contests: its new dataset displaces them at once, and its scan can displace
 * another process's hot set; it treats none of them as proven until it has read them twice.
 *
 * While the reader follows a read plan (`followPlan`), fills evict by the plan instead
 * (disk-plan-victims.ts: Belady's rule, inside the fill's transaction, among the blocks
 * resident then). Those fills run on this thread even with `writerThread`: the plan's heap is
 * here. The sketch and the run are still counted, so the policy resumes where it was when the
 * plan ends.
 */
import { headerRoom } from '../block-buffer.js'
import { CacheError } from '../errors.js'
import { prepareCacheDir } from './cache-dir.js'
import { BLOCK_KEY_BYTES, CACHE_FORMAT_VERSION, keyString } from './block-key.js'
import { newTierStats, type BlockStore, type CachedObjectRecord, type ObjectCatalog, type TierUsage } from './block-store.js'
import { DiskWriter } from './disk-writer.js'
import { DiskPlanVictims } from './disk-plan-victims.js'
import type { EvictionPlan, PlanRole } from './eviction-plan.js'
import { NewDataRun, runGap } from './admission-policy.js'
import { fill, removeBlock, type AdmissionMemory, type FillOutcome, type PlanVictims } from './lmdb-fill.js'
import { FrequencySketch, keyHashes } from './frequency-sketch.js'
import { HEADER_BYTES, chargedBytes, closeEnv, defaultMapBytes, emptyCache, openCacheDbs, placeBehindHeader, recordedMeta, resetFormat, transact, verifiedData, type CacheDbs } from './lmdb-layout.js'
import { LmdbObjectCatalog } from './lmdb-object-catalog.js'
import { RecordedCountsKeeper } from './recorded-counts.js'
import { RefusedKeys } from './refused-keys.js'
import type { ObjectInfo, RecordedCounts, TierStats } from '../types.js'

export { HEADER_BYTES, chargedBytes } from './lmdb-layout.js'
export type { CachedObjectRecord } from './block-store.js'

export interface LmdbBlockStoreOptions {
  /** Directory of the LMDB environment; created if missing. */
  path: string
  /** Bound on stored bytes (keys, headers and data rounded up to 4 KiB pages). */
  maxBytes: number
  /** Expected block size in bytes; sizes the admission sketch. */
  blockSize: number
  /** LMDB map size in bytes. Default 1.5 × maxBytes + 256 MiB (room for B-tree and free pages). */
  mapBytes?: number
  /** Write fills on the disk writer thread instead of this thread. Default false. */
  writerThread?: boolean
}

export class LmdbBlockStore implements BlockStore, ObjectCatalog {
  readonly name = 'disk'
  readonly locality = 'local'
  /**
   * The tier's record of the objects it holds: this store, whose methods below read `records`
   * while it is open and give the count as of close after it (stats are read after close).
   */
  readonly catalog: ObjectCatalog = this
  private readonly records: LmdbObjectCatalog
  readonly maxBytes: number
  readonly path: string
  private readonly sketch: FrequencySketch
  /** This process's admission memory: the sketch and the refused keys, shared with the writer thread. */
  private readonly admission: AdmissionMemory
  /** This process's run of new data, counted here with the sketch and handed to each fill. */
  private readonly run: NewDataRun
  private readonly counters: TierStats
  /** Usage, recorded counts and objects as of close: stats stay readable after it (a last report). */
  private final: { usage: TierUsage; recorded: RecordedCounts | undefined; objects: number } | undefined
  private closing: Promise<void> | undefined
  /** Write transactions not settled yet: close waits for them, whatever they come to. */
  private readonly writing = new Set<Promise<void>>()
  private readonly history: RecordedCountsKeeper
  /** With `writerThread`, fills go through the writer thread, which starts with the first one. */
  private readonly writer: DiskWriter | undefined
  /** The environment and its named databases (lmdb-layout.ts). */
  private readonly dbs: CacheDbs
  /**
   * Header + block for an inline fill of a block without header room (block-buffer.ts),
   * reused: LMDB copies it during the transaction.
   */
  private scratch: ArrayBuffer | undefined
  /** The reader's read plan, when it has one: it chooses the victims of fills. */
  private plan: DiskPlanVictims | undefined

  constructor(options: LmdbBlockStoreOptions) {
    this.path = options.path
    this.maxBytes = options.maxBytes
    prepareCacheDir(options.path) // owner-only; refuses a directory others can write or redirect
    const mapBytes = options.mapBytes ?? defaultMapBytes(options.maxBytes)
    this.dbs = openCacheDbs(options.path, mapBytes)
    this.records = new LmdbObjectCatalog(this.dbs)
    const capacity = Math.max(16, Math.ceil(options.maxBytes / options.blockSize))
    this.sketch = new FrequencySketch(capacity)
    this.admission = { sketch: this.sketch, refused: new RefusedKeys(capacity) }
    this.run = new NewDataRun(runGap(capacity))
    this.counters = newTierStats('disk', options.maxBytes)
    // A commit on the writer thread is seen here once this thread's read snapshot is renewed.
    this.writer = options.writerThread
      ? new DiskWriter(
          { path: options.path, mapBytes, sketchTable: this.sketch.sharedTable, refusedKeys: this.admission.refused.sharedBuffer },
          () => this.dbs.env.resetReadTxn(),
          (key) => this.dbs.sizes.doesExist(key as Buffer),
        )
      : undefined
    const meta = recordedMeta(this.dbs)
    this.history = new RecordedCountsKeeper(this.counters, {
      read: () => meta.get('recorded'),
      update: (next) => this.write(() => meta.putSync('recorded', next(meta.get('recorded')))),
    })
  }

  /** Adds what this process counted since its last save to the directory's recorded counts. */
  saveRecorded(): Promise<void> {
    return this.history.save()
  }

  /** Checks the on-disk format; a cache written by another format version is emptied. */
  async init(): Promise<void> {
    const format = this.dbs.meta.get('format')
    if (format === CACHE_FORMAT_VERSION) return
    await this.write(() => {
      if (this.dbs.meta.get('format') === CACHE_FORMAT_VERSION) return
      resetFormat(this.dbs)
    })
  }

  async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => this.getSync(key))
  }

  /** Reads and verifies one block (LMDB reads are memory-mapped and do not wait on locks). */
  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.lookup(key, false)
  }

  /**
   * Copies `[from, to)` of a verified block into `target` without allocating: LMDB copies the
   * value into its reusable read buffer, the CRC is checked there, then the slice is copied
   * out. Returns false on a miss or a damaged block (which is dropped).
   */
  copyInto(key: Uint8Array, target: Uint8Array, targetOffset: number, from: number, to: number, expectedLength: number): boolean {
    const data = this.lookup(key, true)
    if (data === undefined || data.length !== expectedLength) return false
    target.set(data.subarray(from, to), targetOffset)
    return true
  }

  /**
   * One counted, verified lookup. `reuse`: read into LMDB's reusable buffer (valid only until
   * the next read) instead of a fresh one. A damaged block is dropped and counted as a miss.
   */
  private lookup(key: Uint8Array, reuse: boolean): Uint8Array | undefined {
    const raw = reuse ? this.dbs.blocks.getBinaryFast(key as Buffer) : this.dbs.blocks.getBinary(key as Buffer)
    if (raw === undefined) {
      this.counters.misses++
      return undefined
    }
    // The reusable buffer's byteLength exceeds the value; view exactly the value.
    const data = verifiedData(reuse ? Buffer.from(raw.buffer, raw.byteOffset, raw.length) : raw)
    if (data === undefined) {
      this.counters.misses++
      this.counters.errors++
      this.counters.lastError = `corrupt block dropped from ${this.path}`
      void this.delete(key).catch(() => {})
      return undefined
    }
    const [h1, h2] = keyHashes(key)
    this.sketch.increment(h1, h2)
    this.run.hit()
    this.plan?.residents.add(keyString(key))
    this.counters.hits++
    this.counters.hitBytes += data.length
    return data
  }

  /**
   * A use of a block here that the memory tier above answered. Admission weighs a block by
   * how often it is used, whichever tier served the use: a block the memory tier kept through
   * an epoch was used in it, and must not look unused here.
   */
  noteUse(key: Uint8Array): void {
    if (!this.dbs.sizes.doesExist(key as Buffer)) return
    const [h1, h2] = keyHashes(key)
    this.sketch.increment(h1, h2)
    this.run.hit()
  }

  /**
   * Counts a fill the caller dropped before it reached this store (the write-behind bound),
   * so the live and the recorded counts of dropped fills are the same thing.
   */
  countDroppedFill(): void {
    this.counters.droppedFills++
  }

  /** Reads and verifies a block without counting it as a hit or an access (preload's check). */
  verifySync(key: Uint8Array): Uint8Array | undefined {
    const raw = this.dbs.blocks.getBinary(key as Buffer)
    return raw === undefined ? undefined : verifiedData(raw)
  }

  has(key: Uint8Array): boolean {
    const here = this.dbs.sizes.doesExist(key as Buffer)
    if (here && this.plan !== undefined) this.plan.residents.add(keyString(key))
    return here
  }

  /** Follows a read plan (undefined: none): fills evict by it (see the file's opening). */
  followPlan(plan: EvictionPlan | undefined, role: PlanRole = 'keep'): void {
    this.plan?.residents.close()
    this.plan = plan && new DiskPlanVictims(plan, plan.residents(), role)
  }

  /** Under a plan: whether a fill of this block would be kept now (disk-plan-victims.ts). */
  wouldKeep(key: Uint8Array, bytes: number): boolean {
    return this.plan === undefined || this.plan.wouldKeep(this.dbs, keyString(key), chargedBytes(bytes), this.maxBytes)
  }

  /**
   * Brings the blocks' pages into memory on LMDB's reader thread, so the synchronous read
   * that follows does not stall the event loop on disk I/O (the FUSE daemon answers every
   * request from this loop).
   */
  pageIn(keys: Uint8Array[]): Promise<void> {
    return this.dbs.blocks.prefetch(keys as Buffer[]) as Promise<void>
  }

  /**
   * Stores a block: admission, eviction and the write in one transaction (lmdb-fill.ts), on
   * this thread or the writer thread. Resolves false when admission refused it; rejects with
   * a CacheError when the commit failed.
   */
  async put(key: Uint8Array, bytes: Uint8Array, object?: CachedObjectRecord): Promise<boolean> {
    if (chargedBytes(bytes.length) > this.maxBytes) {
      this.counters.droppedFills++
      return false
    }
    const [h1, h2] = keyHashes(key)
    this.sketch.increment(h1, h2)
    const runSince = this.run.fill(this.sketch.estimate(h1, h2), this.dbs.meta.get('seq') ?? 0)
    const plan = this.plan
    const { stored, evictions } =
      plan !== undefined
        ? await this.fillInline(key, bytes, object, runSince, plan.forFill(keyString(key)), () => this.plan === plan)
        : this.writer
          ? await this.writer.write(key, bytes, this.maxBytes, object, runSince)
          : await this.fillInline(key, bytes, object, runSince)
    this.counters.evictions += evictions
    if (!stored) this.counters.droppedFills++
    else plan?.residents.add(keyString(key))
    return stored
  }

  /**
   * `stillPlanned`: whether the plan whose victims these are is still followed when the
   * transaction runs; a plan ended (or replaced) meanwhile would name no block read later, so
   * the fill goes by the tier's own policy instead.
   */
  private async fillInline(key: Uint8Array, bytes: Uint8Array, object: CachedObjectRecord | undefined, runSince: number | undefined, planVictims?: PlanVictims, stillPlanned?: () => boolean): Promise<FillOutcome> {
    let outcome: FillOutcome = { stored: false, evictions: 0 }
    await this.write(() => {
      const victims = planVictims !== undefined && stillPlanned?.() !== false ? planVictims : undefined
      // This callback runs synchronously and alone, and LMDB copies the value before it
      // returns, so the header room of a block (shared by any fills of that block) and the
      // scratch are free here.
      const room = headerRoom(bytes, HEADER_BYTES)
      if (room !== undefined) {
        outcome = fill(this.dbs, this.admission, { key, ...room, length: bytes.length, maxBytes: this.maxBytes, object, runSince }, victims)
        return
      }
      this.scratch = placeBehindHeader(this.scratch, bytes)
      outcome = fill(this.dbs, this.admission, { key, buffer: this.scratch, length: bytes.length, maxBytes: this.maxBytes, object, runSince }, victims)
    })
    return outcome
  }

  /**
   * One write transaction. A failed commit (disk full, I/O error, map full) rolls the whole
   * transaction back, so blocks and usage stay consistent, and becomes a CacheError.
   */
  private async write(body: () => void): Promise<void> {
    const committing = transact(this.dbs.env, body)
    this.writing.add(committing)
    try {
      await committing
    } catch (cause) {
      throw new CacheError('disk', `write to ${this.path} failed: ${(cause as Error)?.message ?? String(cause)}`, cause)
    } finally {
      this.writing.delete(committing)
    }
  }

  async delete(key: Uint8Array): Promise<boolean> {
    await this.writer?.idle() // a fill issued before this must not commit after it
    let removed = false
    await this.write(() => {
      removed = removeBlock(this.dbs, key as Buffer)
    })
    return removed
  }

  async deletePrefix(prefix: Uint8Array): Promise<number> {
    await this.writer?.idle() // a fill issued before this must not commit after it
    const start = Buffer.from(prefix)
    const end = Buffer.concat([start, Buffer.alloc(BLOCK_KEY_BYTES - start.length + 1, 0xff)])
    let n = 0
    await this.write(() => {
      const keys = [...this.dbs.sizes.getKeys({ start, end })] as Buffer[]
      for (const k of keys) if (removeBlock(this.dbs, k)) n++
    })
    return n
  }

  /** The version of a URL most recently cached, if any of its blocks is here. */
  lastKnownVersion(url: string): ObjectInfo | undefined {
    return this.records.lastKnownVersion(url)
  }

  /** Last known versions of every URL under a prefix, sorted by URL. */
  lastKnownUnder(prefix: string): ObjectInfo[] {
    return this.records.lastKnownUnder(prefix)
  }

  /** Object ids with blocks here for a URL, any version and block size. */
  objectsForUrl(url: string): Uint8Array[] {
    return this.records.objectsForUrl(url)
  }

  objectCount(): number {
    return this.final ? this.final.objects : this.records.objectCount()
  }

  /** Empties the tier; the format and the recorded counts stay (lmdb-layout.ts, keptByClear). */
  async clear(): Promise<void> {
    await this.writer?.idle() // a fill issued before this must not commit after it
    await this.write(() => emptyCache(this.dbs))
  }

  usage(): TierUsage {
    if (this.final) return this.final.usage
    return {
      usedBytes: this.dbs.meta.get('usage') ?? 0,
      maxBytes: this.maxBytes,
      entries: this.dbs.meta.get('entries') ?? 0,
    }
  }

  stats(): TierStats {
    const recorded = this.final ? this.final.recorded : this.history.recorded()
    return { ...this.counters, ...this.usage(), ...(recorded ? { recorded } : {}) }
  }

  /** Forces the next read to see other processes' latest commits. */
  refresh(): void {
    this.dbs.env.resetReadTxn()
  }

  /**
   * Settles on a full disk too (closeEnv says how): resolves once the environment is closed,
   * or rejects with a CacheError naming the directory when LMDB can commit nothing at all.
   * Failed writes before it kept nothing, so the directory holds only committed blocks.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    const recorded = await this.history.stop()
    try {
      await this.writer?.close()
      await Promise.allSettled(this.writing)
      this.final = { usage: this.usage(), recorded, objects: this.records.objectCount() }
      await closeEnv(this.dbs.env)
    } catch (err) {
      throw new CacheError('disk', `closing ${this.path} failed: ${(err as Error)?.message ?? String(err)}`, err)
    }
  }
}
