/**
 * Offering blocks to prefetch: the one path by which a handle's read-ahead and a read plan's
 * walk (plan/plan-prefetch.ts) start speculative fetches, so both obey the same rules. Blocks
 * in flight or resident in memory are skipped, blocks resident on disk are paged in (so the
 * read that comes finds them in memory), and the missing ones are fetched as coalesced runs
 * in order, each shrunk to what the reader's prefetch budget still allows, until it is spent.
 */
import { blockKey, keyString } from './cache/block-key.js'
import type { TieredBlockCache } from './cache/tiered-block-cache.js'
import type { BlockFetcher } from './fetch/block-fetcher.js'
import { missingRuns } from './fetch/run-planner.js'
import type { PinnedObject } from './object-handle.js'
import type { PageIns } from './page-ins.js'

export class PrefetchOffers {
  constructor(
    private readonly fetcher: BlockFetcher,
    private readonly cache: TieredBlockCache,
    private readonly pageIns: PageIns,
    /** Most blocks one fetch covers. */
    private readonly maxRunBlocks: number,
  ) {}

  /**
   * Offers blocks first..last of `obj`; returns the first block not covered (resident, in
   * flight or fetched) when the budget ran out, else last + 1. Runs it starts go to `started`.
   */
  offer(obj: PinnedObject, first: number, last: number, started?: Promise<unknown>[]): number {
    const bs = this.fetcher.blockSize
    const pageIns: number[] = []
    const runs = missingRuns(first, last, this.maxRunBlocks, (i) => {
      const key = blockKey(obj.id, i)
      const ks = keyString(key)
      // In flight first: a map lookup, where locate() may ask LMDB.
      if (this.fetcher.inflightBlock(ks) !== undefined) return false
      const residence = this.cache.locate(key)
      if (residence === 'fast') return false
      if (residence === 'paged') {
        if (!this.pageIns.has(ks)) pageIns.push(i)
        return false
      }
      return true
    })
    let covered = last + 1
    const budget = this.fetcher.budget
    for (const [runFirst, wanted] of runs) {
      const count = Math.min(wanted, Math.floor((budget.maxBytes - budget.inflightBytes) / bs))
      const bytes = Math.min(obj.info.size, (runFirst + count) * bs) - runFirst * bs
      if (count <= 0 || !budget.tryAcquire(bytes)) {
        covered = runFirst
        break
      }
      const run = this.fetcher.startRun(obj, runFirst, count, 'prefetch', bytes)
      if (started !== undefined) started.push(run)
      if (count < wanted) {
        covered = runFirst + count
        break
      }
    }
    const toPage = pageIns.filter((i) => i < covered).map((i) => blockKey(obj.id, i))
    if (toPage.length > 0) void this.pageIns.start(toPage)
    return covered
  }
}
