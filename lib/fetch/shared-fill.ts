/**
 * Fetching a run of blocks when a remote tier is shared by the nodes of a training cluster,
 * so that each block leaves object storage once for the whole cluster, not once per node.
 *
 * For the blocks of a run that no local tier has:
 * 1. ask the remote tier for them, in one round trip;
 * 2. claim the fill lease of each block still missing; where this node wins, it fetches
 *    the block from the source (contiguous winners in one ranged GET, as a run is), publishes
 *    it to the remote tier and then releases the lease;
 * 3. where another node holds the lease, wait (bounded by the lease time) for its value;
 * 4. blocks that did not come (the holder died, its fill was dropped, the tier failed) are
 *    fetched here after all, and published.
 *
 * Every step degrades to "fetch it yourself": a remote tier that fails or is bypassed makes
 * the run an ordinary source fetch. The caller fills the local tiers with every block; this
 * module fills only the remote one, because a lease must be released after its value landed.
 */
import type { SharedTiers } from '../cache/shared-tiers.js'
import { missingRuns } from './run-planner.js'

export interface SharedRun {
  keys: Uint8Array[]
  /** Fetches blocks [first, first+count) of the run (indexes within the run) from the source. */
  fetch(first: number, count: number): Promise<Uint8Array[]>
  /** Publishes a block fetched from the source to the remote tier; resolves once it landed or was dropped. */
  publish(index: number, block: Uint8Array): Promise<unknown>
  /** Resolve only once every publish has landed (preload warming the cluster). */
  durable?: boolean
  signal?: AbortSignal
}

/** The run's blocks, from the remote tier, another node's fill, or the source. */
export async function fetchSharedRun(cache: SharedTiers, run: SharedRun): Promise<Uint8Array[]> {
  const { keys } = run
  const blocks = await cache.getRemote(keys, run.signal ? { signal: run.signal } : {})
  const missing = indexesOf(blocks, (b) => b === undefined)
  if (missing.length === 0) return blocks as Uint8Array[]

  const won = await cache.acquireLeases(missing.map((i) => keys[i]!))
  const mine = missing.filter((_, k) => won[k])
  const theirs = missing.filter((_, k) => !won[k])
  const waited = theirs.length > 0 ? cache.waitForFills(theirs.map((i) => keys[i]!), run.signal ? { signal: run.signal } : {}) : Promise.resolve([])
  // Our own fetches run while we wait for the other nodes'.
  const fetched = fetchAndPublish(run, blocks, mine, true, cache)
  const [arrived] = await Promise.all([waited, fetched])
  const orphans: number[] = []
  theirs.forEach((i, k) => {
    const block = arrived[k]
    if (block === undefined) orphans.push(i)
    else blocks[i] = block
  })
  if (orphans.length > 0) await fetchAndPublish(run, blocks, orphans, false, cache)
  return blocks as Uint8Array[]
}

/**
 * Fetches the blocks at `indexes` (ascending) from the source, contiguous ones together,
 * stores them in `blocks`, and publishes each; with `leased`, releases each block's lease
 * after its publish (or at once, for a fetch that failed).
 */
async function fetchAndPublish(run: SharedRun, blocks: (Uint8Array | undefined)[], indexes: number[], leased: boolean, cache: SharedTiers): Promise<void> {
  const wanted = new Set(indexes)
  await Promise.all(
    // The run planner's rule, over the blocks asked for (no cap: they are one run already).
    missingRuns(indexes[0] ?? 0, indexes[indexes.length - 1] ?? -1, Infinity, (i) => wanted.has(i)).map(async ([first, count]) => {
      const runKeys = run.keys.slice(first, first + count)
      let got: Uint8Array[]
      try {
        got = await run.fetch(first, count)
      } catch (err) {
        if (leased) void cache.releaseLeases(runKeys)
        throw err
      }
      const landed: Promise<unknown>[] = []
      for (let j = 0; j < count; j++) {
        const block = got[j]
        if (block === undefined) continue
        blocks[first + j] = block
        landed.push(run.publish(first + j, block))
      }
      const published = Promise.allSettled(landed)
      if (leased) void published.then(() => cache.releaseLeases(runKeys))
      if (run.durable) await published
    }),
  )
}

function indexesOf<T>(items: T[], test: (item: T) => boolean): number[] {
  const out: number[] = []
  for (let i = 0; i < items.length; i++) if (test(items[i]!)) out.push(i)
  return out
}
