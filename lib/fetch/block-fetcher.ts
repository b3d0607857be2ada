/**
 * The fetch side of the core: it owns the blocks in flight, the scheduler that puts demand
 * ahead of prefetch, the prefetch byte budget and the fetch pool.
 *
 * - singleflight: a block being fetched is registered in `inflight` until it is in the cache
 *   (a queued write-behind fill counts: the tiered cache serves it until it lands), so there
 *   is no window in which a second reader would fetch it again;
 * - coalescing: a run of consecutive missing blocks is one task and, from the source, one
 *   ranged GET;
 * - tiers: with a remote tier shared by other nodes, a run first asks it and takes the
 *   blocks' fill leases (shared-fill.ts); fetched blocks fill the local tiers at once and
 *   the write-behind tiers behind the caller.
 */
import { blockKey, keyString } from '../cache/block-key.js'
import type { CachedObjectRecord } from '../cache/block-store.js'
import type { TieredBlockCache } from '../cache/tiered-block-cache.js'
import { SourceError } from '../errors.js'
import type { PinnedObject } from '../object-handle.js'
import { Arrival } from '../prefetch/arrival.js'
import type { FetchPool } from '../prefetch/fetch-pool.js'
import { FetchScheduler, type Priority, type ScheduledTask } from '../prefetch/fetch-scheduler.js'
import { PrefetchAccounting } from '../prefetch/prefetch-accounting.js'
import { PrefetchBudget } from '../prefetch/prefetch-budget.js'
import type { ObjectInfo } from '../types.js'
import { fetchSharedRun } from './shared-fill.js'

export interface Inflight {
  promise: Promise<Uint8Array>
  task: ScheduledTask
  /** How far the run's body has arrived (inline fetches). */
  arrival: Arrival
  prefetch: boolean
  /** A reader started waiting on this prefetched block before it landed. */
  claimed: boolean
}

export interface RunFill {
  /** Await the write-behind fills and never drop them for their budget (preload). */
  durable?: boolean
  /** Fill the memory tier too. Default true. */
  memory?: boolean
  /**
   * Aborts the run's fetch (preload interrupted). Only for runs the caller started for itself:
   * a reader that joined one of its blocks then sees the abort too.
   */
  signal?: AbortSignal
}

/** What the disk tier records of an object read with blocks of `blockSize`. */
export function objectRecord(info: ObjectInfo, blockSize: number): CachedObjectRecord {
  const { url, version, size, mtimeMs } = info
  return { url, version, size, blockSize, ...(mtimeMs === undefined ? {} : { mtimeMs }) }
}

export class BlockFetcher {
  readonly scheduler: FetchScheduler
  readonly budget: PrefetchBudget
  readonly prefetch = new PrefetchAccounting()
  private readonly inflight = new Map<string, Inflight>()

  constructor(
    private readonly cache: TieredBlockCache,
    private readonly pool: FetchPool,
    readonly blockSize: number,
    limits: { maxConcurrentRequests: number; maxInflightBytes: number },
  ) {
    this.scheduler = new FetchScheduler(limits.maxConcurrentRequests)
    this.budget = new PrefetchBudget(limits.maxInflightBytes)
  }

  /** The fetch a block is part of, if it is in flight. */
  inflightBlock(ks: string): Inflight | undefined {
    return this.inflight.size > 0 ? this.inflight.get(ks) : undefined
  }

  /** Settles once every fetch in flight now has landed or failed. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()].map((f) => f.promise))
  }

  /** Length block `i` of the object must have. */
  blockLength(obj: PinnedObject, i: number): number {
    return Math.min(this.blockSize, obj.info.size - i * this.blockSize)
  }

  /**
   * Fetches blocks [first, first+count) as one task (one ranged GET from the source) and
   * registers each block as in flight until it is in the cache. Resolves, per block, whether
   * it was stored (durable fills: in the last local tier; otherwise: fetched), false for all
   * when the fetch failed; with `durable` the fetch error itself rejects (preload wants it).
   * `budgetBytes` of prefetch budget are released when the run is done.
   */
  startRun(obj: PinnedObject, first: number, count: number, priority: Priority, budgetBytes = 0, fill: RunFill = {}): Promise<boolean[]> {
    const bs = this.blockSize
    const arrival = new Arrival(bs)
    const keys = Array.from({ length: count }, (_, j) => blockKey(obj.id, first + j))
    const object = objectRecord(obj.info, bs)
    const { promise, task } = this.scheduler.schedule(priority, () => this.fetchRun(obj, first, keys, arrival, object, fill.durable === true, fill.signal))
    void promise.then(
      () => arrival.settle(),
      () => arrival.settle(),
    )
    const names = keys.map(keyString)
    const entries: Inflight[] = []
    for (let j = 0; j < count; j++) {
      const expected = this.blockLength(obj, first + j)
      const entry: Inflight = {
        promise: promise.then((blocks) => {
          const block = blocks[j]
          if (block === undefined || block.length !== expected) {
            throw new SourceError(obj.info.url, `fetch of block ${first + j} returned ${block?.length ?? 0} bytes, expected ${expected}`)
          }
          return block
        }),
        task,
        arrival,
        prefetch: priority === 'prefetch',
        claimed: false,
      }
      entry.promise.catch(() => {})
      entries.push(entry)
      this.inflight.set(names[j]!, entry)
    }
    if (priority === 'prefetch') this.prefetch.issued(count)
    const done = promise.then(
      async (blocks) => {
        const stored: Promise<boolean>[] = []
        for (let j = 0; j < count; j++) {
          const block = blocks[j]
          if (block === undefined || block.length !== this.blockLength(obj, first + j)) {
            stored.push(Promise.resolve(false))
            continue
          }
          // The remote tier was filled by fetchRun, before the block's lease was released.
          stored.push(this.cache.fill(keys[j]!, block, { object, tiers: 'local', durable: fill.durable === true, ...(fill.memory === undefined ? {} : { memory: fill.memory }) }))
          if (entries[j]!.prefetch && !entries[j]!.claimed) this.prefetch.landedUnread(names[j]!)
        }
        return fill.durable ? Promise.all(stored) : stored.map(() => true)
      },
      () => new Array<boolean>(count).fill(false),
    )
    void done.finally(() => {
      if (budgetBytes > 0) this.budget.release(budgetBytes)
      for (let j = 0; j < count; j++) if (this.inflight.get(names[j]!) === entries[j]) this.inflight.delete(names[j]!)
    })
    // Preload wants the fetch error itself, not just "not stored".
    return fill.durable ? promise.then(() => done) : done
  }

  /** The run's blocks: from the source, or through the shared tier when there is one. */
  private fetchRun(obj: PinnedObject, first: number, keys: Uint8Array[], arrival: Arrival, object: CachedObjectRecord, durable: boolean, signal: AbortSignal | undefined): Promise<Uint8Array[]> {
    const bs = this.blockSize
    const fromSource = (runFirst: number, count: number) => {
      const start = (first + runFirst) * bs
      const end = Math.min(obj.info.size, (first + runFirst + count) * bs)
      return this.pool.fetch({ info: obj.info, start, end, blockSize: bs, onProgress: arrival.progress, ...(signal === undefined ? {} : { signal }) })
    }
    const shared = this.cache.shared
    if (shared === undefined) return fromSource(0, keys.length)
    return fetchSharedRun(shared, {
      keys,
      fetch: fromSource,
      publish: (j, block) => this.cache.fill(keys[j]!, block, { object, tiers: 'remote', durable }),
      durable,
      ...(signal === undefined ? {} : { signal }),
    })
  }
}
