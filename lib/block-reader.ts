/**
 * BlockReader: the composition root of the core and the facade users hold. It builds the
 * sources, the tiers and the fetcher, and answers handles through the narrow BlockProvider
 * interface:
 *
 * - reads: a block comes from the fastest tier that has it, else joins or starts a fetch
 *   (the fetcher owns singleflight, coalescing, the scheduler and the prefetch budget:
 *   fetch/block-fetcher.ts);
 * - prefetch: handles report their pattern, the reader offers ranges ahead within the
 *   budget, and disk-tier blocks ahead are paged in off the event loop;
 * - the read plan, when a loader hands one (lib/plan/): its walk offers blocks in plan order
 *   through the same prefetch path, and the tiers evict by it;
 * - pins: which object versions this reader has opened per URL, so evict() reaches them.
 */
import { blockKey, keyString, objectId } from './cache/block-key.js'
import { TieredBlockCache } from './cache/tiered-block-cache.js'
import { ClosedError, SourceError } from './errors.js'
import { BlockObjectHandle, type BlockProvider, type PinnedObject } from './object-handle.js'
import { resolveOptions, type BlockReaderOptions, type ResolvedOptions } from './options.js'
import { InlineFetchPool, PiscinaFetchPool, type FetchPool } from './prefetch/fetch-pool.js'
import type { Priority } from './prefetch/fetch-scheduler.js'
import { BlockFetcher, objectRecord, type RunFill } from './fetch/block-fetcher.js'
import { missingRuns } from './fetch/run-planner.js'
import { SourceRegistry } from './source/registry.js'
import type { Source } from './source/source.js'
import { StaleOkSource } from './source/stale-ok-source.js'
import type { ObjectHandle, ObjectInfo, ObjectReader, PlannedRead, PlanOptions, PreloadOptions, PreloadResult, ReadOptions, ReadPlan, ReaderStats } from './types.js'
import { canonicalUrl } from './url.js'
import { abortable } from './abortable.js'
import { buildTiers } from './cache/build-tiers.js'
import { PinnedUrls } from './pinned-urls.js'
import { PageIns } from './page-ins.js'
import { PrefetchOffers } from './prefetch-offers.js'
import { preload } from './preload.js'
import { ReaderPlan, type PlanHost } from './plan/read-plan.js'
import type { LookaheadLimits } from './plan/plan-prefetch.js'
import { chargedBytes } from './cache/lmdb-layout.js'

export class BlockReader implements ObjectReader, BlockProvider, PlanHost {
  readonly options: ResolvedOptions
  readonly cacheDir: string | undefined
  /** Every directory of the disk tier (`cacheDir` is the first); empty for memory only. */
  readonly cacheDirs: readonly string[]
  readonly blockSize: number
  readonly minReadAheadBytes: number
  readonly maxReadAheadBytes: number
  readonly coalesceBytes: number
  /** Most blocks one fetch (one ranged GET) covers. */
  readonly maxRunBlocks: number
  /** @internal used by preload */
  readonly cache: TieredBlockCache
  private readonly fetcher: BlockFetcher
  private readonly pageIns: PageIns
  private readonly offers: PrefetchOffers
  private readonly sources: SourceRegistry
  private readonly pool: FetchPool
  private readonly handles = new Set<BlockObjectHandle>()
  /** Object ids this reader has pinned, per URL, so evict() reaches the memory tier too. */
  private readonly pins = new PinnedUrls(
    () => [...this.handles].map((h) => h.info.url),
    (id) => this.cache.holdsObject(id),
  )
  private readonly opened: Promise<void>
  private closed = false
  private closing: Promise<void> | undefined
  /** Reads and preloads under way, which close() waits for. */
  private readonly active = new Set<Promise<unknown>>()
  /** With offline: 'stale-ok', each source's metadata decorated to answer from the catalogue in an outage. */
  private readonly staleOk = new Map<Source, StaleOkSource>()
  /** The read plan the tiers and the plan's prefetch follow, if a loader handed one. */
  private activePlan: ReaderPlan | undefined

  constructor(options: BlockReaderOptions = {}) {
    this.options = resolveOptions(options)
    const o = this.options
    this.cacheDir = o.cacheDir
    this.cacheDirs = o.diskDirs.map((d) => d.path)
    this.blockSize = o.blockSize
    this.maxReadAheadBytes = readAheadCap(o)
    this.minReadAheadBytes = Math.min(this.maxReadAheadBytes, Math.max(2 * o.blockSize, o.coalesceBytes))
    this.coalesceBytes = o.coalesceBytes
    this.maxRunBlocks = Math.max(1, Math.floor(o.coalesceBytes / o.blockSize))
    this.sources = new SourceRegistry(o.s3, o.retry, o.sources)
    const tiers = buildTiers(o, { onMemoryEvict: (ks) => this.fetcher.prefetch.evicted(ks) })
    this.cache = tiers.cache
    this.opened = tiers.opened
    this.pool =
      o.threads > 0
        ? new PiscinaFetchPool(o.threads, this.sources, o.s3, o.retry, this.sources.stats)
        : new InlineFetchPool(this.sources)
    this.fetcher = new BlockFetcher(this.cache, this.pool, o.blockSize, o)
    this.pageIns = new PageIns(this.cache)
    this.offers = new PrefetchOffers(this.fetcher, this.cache, this.pageIns, this.maxRunBlocks)
  }

  /**
   * Resolves once the disk tier is open and checked; rejects with ERR_SLUICE_CACHE naming the
   * directory if it cannot be used. Every other method waits for this itself.
   */
  ready(): Promise<void> {
    return this.opened
  }

  /** Metadata of the object's current version (one request). */
  async stat(url: string, options: ReadOptions = {}): Promise<ObjectInfo> {
    this.checkOpen()
    await this.opened
    const canonical = canonicalUrl(url)
    return this.metadataSource(canonical).stat(canonical, options)
  }

  async list(prefix: string, options: ReadOptions = {}): Promise<ObjectInfo[]> {
    this.checkOpen()
    await this.opened
    const canonical = canonicalUrl(prefix)
    return this.metadataSource(canonical).list(canonical, options)
  }

  /** The source that answers a URL's metadata, under the offline policy. */
  private metadataSource(url: string): Source {
    const source = this.sources.sourceFor(url)
    if (this.options.offline !== 'stale-ok') return source
    let decorated = this.staleOk.get(source)
    if (decorated === undefined) this.staleOk.set(source, (decorated = new StaleOkSource(source, () => this.cache.catalog)))
    return decorated
  }

  async open(target: string | ObjectInfo, options: ReadOptions = {}): Promise<ObjectHandle> {
    this.checkOpen()
    await this.opened
    const info = typeof target === 'string' ? await this.stat(target, options) : { ...target, url: canonicalUrl(target.url) }
    const obj = this.pin(info)
    const handle = new BlockObjectHandle(this, obj)
    this.handles.add(handle)
    return handle
  }

  /** @internal The pinned form of an object version (also used by preload). */
  pin(info: ObjectInfo): PinnedObject {
    const id = objectId(info.url, info.version, this.blockSize, info.size)
    this.pins.pin(info.url, keyString(id))
    if (info.size === 0) this.rememberEmpty(id, info)
    return { info, id, blockCount: Math.ceil(info.size / this.blockSize) }
  }

  /**
   * The disk tier records an object with its first block (lmdb-fill.ts), and an empty object
   * has none: a zero-length block stands in for it, so an empty object (a `_SUCCESS` marker,
   * an `__init__.py`) is known through an outage like any cached one, and is forgotten
   * under the same bounds (it is charged one page and evicted in turn).
   */
  private rememberEmpty(id: Uint8Array, info: ObjectInfo): void {
    if (!this.cache.persistent) return
    const key = blockKey(id, 0)
    if (this.cache.has(key)) return
    void this.cache.fill(key, new Uint8Array(0), { memory: false, object: objectRecord(info, this.blockSize) })
  }

  /**
   * Hands the reader the reads to come, in order (see ReadPlan in types.ts for the calls a
   * loader makes). Replaces the reader's plan if it had one; a bad read throws a RangeError
   * or TypeError naming it, and the plan before stays.
   */
  plan(reads: Iterable<PlannedRead>, options: PlanOptions = {}): ReadPlan {
    this.checkOpen()
    const next = new ReaderPlan(reads, this, options)
    this.activePlan?.end()
    this.activePlan = next
    this.cache.followPlan(next)
    next.start()
    return next
  }

  /** @internal PlanHost: a plan ended. */
  planEnded(plan: ReaderPlan): void {
    if (this.activePlan !== plan) return
    this.activePlan = undefined
    this.cache.followPlan(undefined)
  }

  /** @internal PlanHost: what bounds the plan's walk, in blocks. */
  lookaheadLimits(): LookaheadLimits {
    const bs = this.blockSize
    const staging = this.cache.stagingBytes
    const keepingBlocks = this.cache.usage().maxBytes / (this.cache.persistent ? chargedBytes(bs) : bs)
    return { keepingBlocks, stagingBlocks: staging > 0 ? staging / bs : Infinity, readAheadBlocks: this.maxReadAheadBytes / bs }
  }

  /** @internal PlanHost: see PlanFetchHost.holdsUntilRead. */
  holdsUntilRead(obj: PinnedObject, index: number): boolean {
    return this.cache.stagingBytes > 0 || this.cache.wouldKeep(blockKey(obj.id, index), this.fetcher.blockLength(obj, index))
  }

  /** Fetches objects or prefixes into the disk tier and reports what is verifiably resident. */
  async preload(targets: string[], options: PreloadOptions = {}): Promise<PreloadResult> {
    this.checkOpen()
    await this.opened
    return this.track(preload(this, targets, options))
  }

  /** Drops every cached block of `url` (all versions known to the cache). Resolves to blocks removed. */
  async evict(url: string): Promise<number> {
    this.checkOpen()
    await this.opened
    const canonical = canonicalUrl(url)
    const ids = new Set(this.pins.idsOf(canonical))
    for (const id of this.cache.catalog?.objectsForUrl(canonical) ?? []) ids.add(keyString(id))
    let removed = 0
    for (const ks of ids) removed += await this.cache.deletePrefix(Buffer.from(ks, 'latin1'))
    // The entry stays: a handle still open on the URL fills the memory tier again, and
    // evict() must find those blocks too. PinnedUrls drops it once it is idle.
    return removed
  }

  /** Empties every tier. */
  async clearCache(): Promise<void> {
    this.checkOpen()
    await this.opened
    await this.cache.clear()
    this.pins.clear()
  }

  stats(): ReaderStats {
    return {
      tiers: this.cache.tierStats(),
      source: { ...this.sources.stats, staleAnswers: [...this.staleOk.values()].reduce((n, s) => n + s.staleAnswers, 0) },
      prefetch: {
        ...this.fetcher.prefetch.stats(),
        inflightBytes: this.fetcher.budget.inflightBytes,
        maxInflightBytes: this.fetcher.budget.maxBytes,
      },
      openHandles: this.handles.size,
    }
  }

  /** Resolves when every disk fill queued so far has been written (or dropped). */
  async flush(): Promise<void> {
    await this.cache.flush()
  }

  /**
   * Refuses new work, waits for reads and fetches under way and for queued disk fills, then
   * releases threads, sockets and the LMDB environment. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown()
    return this.closing
  }

  private async shutDown(): Promise<void> {
    this.closed = true
    this.activePlan?.end()
    for (const h of [...this.handles]) await h.close()
    // A read past its handle's checks may still be awaiting a page-in or a fetch: let it
    // finish against open tiers rather than find the LMDB environment closed under it.
    while (this.active.size > 0) await Promise.allSettled([...this.active])
    await this.fetcher.settle()
    // Prefetched blocks nobody read by now were fetched for nothing.
    this.fetcher.prefetch.close()
    await this.opened.catch(() => {})
    try {
      await this.cache.close()
    } finally {
      await this.pool.close()
      await this.sources.close()
    }
  }

  /** Registers an operation that close() must wait for. */
  track<T>(work: Promise<T>): Promise<T> {
    this.active.add(work)
    const forget = () => void this.active.delete(work)
    work.then(forget, forget)
    return work
  }

  // ---- BlockProvider (used by handles) ----

  /**
   * A cached block, if it has the length its position demands; one that does not (it cannot
   * be served: it would make a short or padded read) is dropped from the tiers as a miss.
   */
  private verifiedLength(obj: PinnedObject, i: number, key: Uint8Array, block: Uint8Array | undefined): Uint8Array | undefined {
    if (block === undefined || block.length === this.fetcher.blockLength(obj, i)) return block
    void this.cache.delete(key)
    return undefined
  }

  async pageIn(obj: PinnedObject, first: number, last: number): Promise<boolean> {
    const { all, wait } = this.pageIns.plan(obj.id, first, last)
    if (wait) await wait
    return all
  }

  async getBlocks(obj: PinnedObject, first: number, last: number, signal?: AbortSignal): Promise<Uint8Array[]> {
    // Disk-tier blocks are paged in off the event loop before the synchronous reads below.
    const paging = this.pageIns.plan(obj.id, first, last).wait
    if (paging) await paging
    const out: Uint8Array[] = new Array(last - first + 1)
    const waits: Promise<void>[] = []
    const runs = missingRuns(first, last, this.maxRunBlocks, (i) => {
      const key = blockKey(obj.id, i)
      const ks = keyString(key)
      const hit = this.verifiedLength(obj, i, key, this.cache.getSync(key))
      if (hit === undefined) return this.fetcher.inflightBlock(ks) === undefined
      out[i - first] = hit
      this.fetcher.prefetch.read(ks)
      return false
    })
    for (const [runFirst, count] of runs) this.startRun(obj, runFirst, count, 'demand')
    for (let i = first; i <= last; i++) {
      if (out[i - first] !== undefined) continue
      const f = this.fetcher.inflightBlock(keyString(blockKey(obj.id, i)))
      if (!f) {
        // Landed in the cache between the two passes.
        const block = this.verifiedLength(obj, i, blockKey(obj.id, i), this.cache.getSync(blockKey(obj.id, i)))
        if (block === undefined) throw new SourceError(obj.info.url, `block ${i} vanished from the cache before it was read`)
        out[i - first] = block
        continue
      }
      f.task.promote()
      if (f.prefetch && !f.claimed) {
        f.claimed = true
        this.fetcher.prefetch.claimed()
      }
      waits.push(f.promise.then((b) => void (out[i - first] = b)))
    }
    if (waits.length > 0) await abortable(Promise.all(waits), signal, obj.info.url)
    return out
  }

  async readArriving(obj: PinnedObject, position: number, end: number, minBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    const bs = this.blockSize
    const i = Math.floor(position / bs)
    // Starts (or joins) the fetch synchronously when the block is in no tier.
    const pending = this.getBlocks(obj, i, i, signal)
    const f = this.fetcher.inflightBlock(keyString(blockKey(obj.id, i)))
    if (f) {
      pending.catch(() => {}) // a failure reaches the next read; these bytes are final already
      const need = Math.min(end, position + minBytes)
      await abortable(Promise.race([pending.then(() => {}), f.arrival.reached(need)]), signal, obj.info.url)
      const arrived = f.arrival.view(position, end, need)
      if (arrived !== undefined) return arrived
    }
    const [block] = await pending
    return block!.subarray(position - i * bs, end - i * bs)
  }

  copyCached(obj: PinnedObject, position: number, end: number, target: Uint8Array, offset: number, fromDisk: boolean): boolean {
    const bs = this.blockSize
    const first = Math.floor(position / bs)
    const last = Math.floor((end - 1) / bs)
    for (let i = first; i <= last; i++) {
      const blockStart = i * bs
      const from = Math.max(position, blockStart)
      const to = Math.min(end, blockStart + bs)
      const key = blockKey(obj.id, i)
      // The fast pass counts no miss: the disk pass or a fetch follows.
      const scope = fromDisk ? 'all' : 'fast'
      if (!this.cache.copyInto(key, target, offset + (from - position), from - blockStart, to - blockStart, this.fetcher.blockLength(obj, i), scope)) {
        return false
      }
      this.fetcher.prefetch.read(keyString(key))
    }
    return true
  }

  /**
   * Offers `[start, end)` to prefetch and returns how far it got: the end of the last block
   * fetched, in flight or resident before the budget ran out (callers offer the rest later).
   */
  prefetchRange(obj: PinnedObject, start: number, end: number): number {
    if (this.closed || end <= start) return start
    const bs = this.blockSize
    const first = Math.floor(start / bs)
    const covered = this.offers.offer(obj, first, Math.min(obj.blockCount, Math.ceil(end / bs)) - 1)
    return Math.max(start, Math.min(end, covered * bs))
  }

  /** @internal PlanHost: prefetchRange by blocks, for the plan's walk. */
  prefetchBlocks(obj: PinnedObject, first: number, count: number, started: Promise<unknown>[]): number {
    return this.closed ? 0 : this.offers.offer(obj, first, first + count - 1, started) - first
  }

  passBlocks(obj: PinnedObject, first: number, end: number): void {
    for (let i = first; i < end; i++) this.cache.markPassed(blockKey(obj.id, i))
  }

  release(handle: BlockObjectHandle): void {
    this.handles.delete(handle)
  }

  /** @internal also used by preload: see BlockFetcher.startRun. */
  startRun(obj: PinnedObject, first: number, count: number, priority: Priority, budgetBytes = 0, fill: RunFill = {}): Promise<boolean[]> {
    return this.fetcher.startRun(obj, first, count, priority, budgetBytes, fill)
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError('BlockReader')
  }
}

/**
 * The read-ahead window per handle. Without a disk tier, prefetched blocks have nowhere to
 * wait but the memory tier, and a window larger than it evicts what other readers hold and
 * then its own unread blocks: there the window is at most half the tier. With a disk tier
 * they land on disk too, so the configured window stands (capping it there made a small
 * memory tier over a large disk tier four times slower).
 */
function readAheadCap(o: ResolvedOptions): number {
  if (o.cacheDir !== undefined || o.memoryMaxBytes === 0) return o.maxReadAheadBytes
  const half = Math.floor(o.memoryMaxBytes / 2 / o.blockSize) * o.blockSize
  return Math.min(o.maxReadAheadBytes, Math.max(o.blockSize, half))
}
