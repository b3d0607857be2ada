/**
 * The reader's tiers, built from its options in the one order the read path relies on:
 * memory, then the disk tier (LMDB), then the cluster tier shared by the nodes. Each tier is
 * one entry here; the rest of the core sees only the composition (TieredBlockCache).
 *
 * Opening is asynchronous and may fail: `opened` rejects with a clear, coded error when a
 * tier cannot be used as configured (a cache directory sluice may not use, a cluster that
 * refuses the password or is not a cluster). A tier that opens but later fails is the
 * composition's to bypass.
 */
import { CacheError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
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

  if (o.cacheDir !== undefined) {
    try {
      const disk = new LmdbBlockStore({ path: o.cacheDir, maxBytes: o.diskMaxBytes, blockSize: o.blockSize, writerThread: o.diskWriterThread })
      specs.push({
        store: disk,
        maxPendingWriteBytes: o.maxPendingWriteBytes,
        health: { maxConsecutiveErrors: o.diskMaxConsecutiveErrors, cooldownMs: o.diskRetryAfterMs },
      })
      opening.push(disk.init())
    } catch (err) {
      opening.push(Promise.reject(err instanceof CacheError ? err : new CacheError('disk', `cannot open cache directory ${o.cacheDir}: ${(err as Error).message}`, err)))
    }
  }

  const opened = Promise.all(opening).then(() => {})
  // Reported by the first call that awaits it; avoid an unhandled rejection before then.
  opened.catch(() => {})
  return { cache: new TieredBlockCache(specs), opened }
}
