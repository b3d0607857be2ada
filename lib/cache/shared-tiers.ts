/**
 * The tiers this node shares with the other nodes of a training cluster (the cluster tier),
 * as the fetch path uses them (fetch/shared-fill.ts): blocks asked in one round trip, fill
 * leases claimed, released and waited for. Each call counts a failure against the tier's
 * health and answers as if the tier were not there (misses, "fetch it yourself"), so a sick
 * cluster can delay a read by at most its timeouts and never fail it.
 */
import type { Tier } from './tier.js'

export class SharedTiers {
  constructor(private readonly tiers: Tier[]) {}

  /**
   * Blocks from the remote tiers only, verified, unpromoted (the caller fills the local tiers
   * with what it keeps). Never rejects for a tier's failure (those blocks are misses), only for an abort.
   */
  async getRemote(keys: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<(Uint8Array | undefined)[]> {
    const out: (Uint8Array | undefined)[] = new Array(keys.length).fill(undefined)
    for (const tier of this.tiers) {
      const missing: number[] = []
      for (let i = 0; i < out.length; i++) if (out[i] === undefined) missing.push(i)
      if (missing.length === 0 || !tier.health.usable()) continue
      try {
        const found = await tier.store.getMany(missing.map((i) => keys[i]!), options)
        tier.health.success()
        for (let j = 0; j < missing.length; j++) if (found[j] !== undefined) out[missing[j]!] = found[j]
      } catch (err) {
        if (options.signal?.aborted) throw err
        tier.health.failure(err)
      }
    }
    return out
  }

  /**
   * Claims the fill leases of blocks about to be fetched: true where this process should
   * fetch (it won the lease, or no tier coordinates fills, or the tier failed), false where
   * another process holds the lease and is fetching the block now.
   */
  async acquireLeases(keys: Uint8Array[]): Promise<boolean[]> {
    const tier = this.leaseTier()
    if (tier === undefined) return keys.map(() => true)
    try {
      const won = await tier.store.leases!.acquire(keys)
      tier.health.success()
      return won
    } catch (err) {
      tier.health.failure(err)
      return keys.map(() => true)
    }
  }

  /** Gives up leases this process holds. Never rejects: an unreleased lease expires on its own. */
  async releaseLeases(keys: Uint8Array[]): Promise<void> {
    const tier = this.leaseTier()
    if (tier === undefined || keys.length === 0) return
    await tier.store.leases!.release(keys).catch((err: unknown) => tier.health.failure(err))
  }

  /** Waits (bounded by the lease time) for blocks another process is filling; undefined where none came. */
  async waitForFills(keys: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<(Uint8Array | undefined)[]> {
    const tier = this.leaseTier()
    if (tier === undefined) return keys.map(() => undefined)
    try {
      const blocks = await tier.store.leases!.waitFor(keys, options)
      tier.health.success()
      return blocks
    } catch (err) {
      if (options.signal?.aborted) throw err
      tier.health.failure(err)
      return keys.map(() => undefined)
    }
  }

  private leaseTier(): Tier | undefined {
    const tier = this.tiers.find((t) => t.store.leases !== undefined)
    return tier && tier.health.usable() ? tier : undefined
  }
}
