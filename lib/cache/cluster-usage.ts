/**
 * How full the cluster tier is, from `INFO memory stats keyspace` of every master, summed.
 *
 * `usage()` and `stats()` are synchronous and must never wait on the network, so they read a
 * snapshot; reading it starts a refresh in the background when it is older than
 * USAGE_REFRESH_MS (one at a time, bounded like every call of the tier). What Redis reports
 * is the whole cluster's: memory and keys of every user of it, leases included, and
 * evictions by its maxmemory policy, which the tier has no other way to see.
 */
import type { TierUsage } from './block-store.js'

export const USAGE_REFRESH_MS = 5000

export interface ClusterUsage extends TierUsage {
  /** Keys evicted by the masters' maxmemory policy since they started. */
  evictions: number
}

/** One master's figures. `maxBytes`: its maxmemory, or the machine's memory where maxmemory is 0 (unbounded). */
export function parseInfo(info: string): ClusterUsage {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  const maxmemory = field('maxmemory')
  return {
    usedBytes: field('used_memory'),
    maxBytes: maxmemory > 0 ? maxmemory : field('total_system_memory'),
    entries: Number(/^db0:keys=(\d+)/m.exec(info)?.[1] ?? 0),
    evictions: field('evicted_keys'),
  }
}

export function sumUsage(parts: ClusterUsage[]): ClusterUsage {
  const total: ClusterUsage = { usedBytes: 0, maxBytes: 0, entries: 0, evictions: 0 }
  for (const p of parts) {
    total.usedBytes += p.usedBytes
    total.maxBytes += p.maxBytes
    total.entries += p.entries
    total.evictions += p.evictions
  }
  return total
}

export class UsageSnapshot {
  private value: ClusterUsage = { usedBytes: 0, maxBytes: 0, entries: 0, evictions: 0 }
  private readAt = 0
  private refreshing: Promise<void> | undefined

  constructor(
    private readonly read: () => Promise<ClusterUsage>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The last snapshot; starts a refresh when it is stale (`live` false: never, e.g. after close). */
  current(live: boolean): ClusterUsage {
    if (live && Date.now() - this.readAt >= USAGE_REFRESH_MS) void this.refresh()
    return this.value
  }

  /** Reads the figures now (at most one read at a time); never rejects. */
  refresh(): Promise<void> {
    this.refreshing ??= this.read()
      .then(
        (value) => {
          this.value = value
        },
        (err: unknown) => this.onError(err),
      )
      .finally(() => {
        // A failed read also waits out the interval: a sick cluster is not asked on every stats().
        this.readAt = Date.now()
        this.refreshing = undefined
      })
    return this.refreshing
  }
}
