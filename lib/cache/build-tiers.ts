/**
 * The reader's tiers, built from its options in the one order the read path relies on:
 * memory, then the disk tier (LMDB: one directory, or a DiskSet over several), then the
 * cluster tier shared by the nodes. Each tier is
 * one entry here; the rest of the core sees only the composition (TieredBlockCache).
 *
 * Opening is asynchronous and may fail: `opened` rejects with a clear, coded error when a
 * tier cannot be used as configured (a cache directory sluice may not use, a cluster that
 * refuses the password or is not a cluster). A tier that opens but later fails is the
 * composition's to bypass.
 */
import { CacheError, ClusterError } from '../errors.js'
import type { ResolvedClusterTier, ResolvedOptions } from '../options.js'
import { RedisClusterBlockStore } from './redis-cluster-block-store.js'
import { DiskSet } from './disk-set.js'
import { LmdbBlockStore } from './lmdb-block-store.js'
import { MemoryBlockStore } from './memory-block-store.js'
import { TieredBlockCache, type TierSpec } from './tiered-block-cache.js'

export interface BuiltTiers {
  cache: TieredBlockCache
  /** Resolves once every tier is open and checked; rejects with the first tier's error. */
  opened: Promise<void>
}

export function buildTiers(o: ResolvedOptions, hooks: { onMemoryEvict?: (ks: string) => void } = {}): BuiltTiers {
  const specs: TierSpec[] = []
  const opening: Promise<void>[] = []

  if (o.memoryMaxBytes > 0) {
    const memory = new MemoryBlockStore(o.memoryMaxBytes)
    if (hooks.onMemoryEvict) memory.onEvict = hooks.onMemoryEvict
    specs.push({ store: memory })
  }

  const [first, ...more] = o.diskDirs
  if (first !== undefined) {
    const health = { maxConsecutiveErrors: o.diskMaxConsecutiveErrors, cooldownMs: o.diskRetryAfterMs }
    try {
      // One directory is the LMDB store itself; several are one tier over a store each.
      const disk =
        more.length === 0
          ? new LmdbBlockStore({ path: first.path, maxBytes: first.maxBytes, blockSize: o.blockSize, writerThread: o.diskWriterThread })
          : new DiskSet({ dirs: o.diskDirs, blockSize: o.blockSize, writerThread: o.diskWriterThread, health })
      specs.push({ store: disk, maxPendingWriteBytes: o.maxPendingWriteBytes, health })
      opening.push(disk.init())
    } catch (err) {
      opening.push(Promise.reject(err instanceof CacheError ? err : new CacheError('disk', `cannot open cache directory ${first.path}: ${(err as Error).message}`, err)))
    }
  }

  let openCluster: ((cache: TieredBlockCache) => Promise<void>) | undefined
  if (o.cluster !== undefined) {
    const { store, open } = clusterTier(o.cluster)
    specs.push({
      store,
      maxPendingWriteBytes: o.cluster.maxPendingWriteBytes,
      health: { maxConsecutiveErrors: o.cluster.maxConsecutiveErrors, cooldownMs: o.cluster.retryAfterMs },
    })
    openCluster = open
  }

  const cache = new TieredBlockCache(specs)
  if (openCluster) opening.push(openCluster(cache))
  const opened = Promise.all(opening).then(() => {})
  // Reported by the first call that awaits it; avoid an unhandled rejection before then.
  opened.catch(() => {})
  return { cache, opened }
}

/**
 * The cluster tier and how it opens. A misconfiguration (wrong password, a node that is not a
 * cluster node) fails the reader's `ready()`: silently reading without the tier would make
 * every node fetch the whole dataset. A cluster that cannot be reached is an outage, not a
 * mistake: the reader starts without it (the tier shows unhealthy in stats, with the reason)
 * and connects again every `retryAfterMs` in the background until it succeeds or the reader
 * closes.
 */
function clusterTier(o: ResolvedClusterTier): { store: RedisClusterBlockStore; open: (cache: TieredBlockCache) => Promise<void> } {
  const store = new RedisClusterBlockStore(o.store) // option mistakes throw here, from the constructor
  const open = async (cache: TieredBlockCache): Promise<void> => {
    try {
      await store.init()
    } catch (err) {
      if (err instanceof ClusterError && (err.reason === 'auth' || err.reason === 'not-cluster')) throw err
      cache.reportFailure(store, err)
      reconnectLater(store, cache, o.retryAfterMs)
    }
  }
  return { store, open }
}

function reconnectLater(store: RedisClusterBlockStore, cache: TieredBlockCache, afterMs: number): void {
  const timer = setTimeout(() => {
    store.init().catch((err: unknown) => {
      if (!(err instanceof ClusterError)) return // closed: stop trying
      cache.reportFailure(store, err)
      reconnectLater(store, cache, afterMs)
    })
  }, Math.max(afterMs, 100))
  timer.unref()
}
