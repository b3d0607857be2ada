/**
 * One tier inside the tiered cache: its store with the state the composition keeps about it —
 * its health (bypassed after repeated errors), whether fills reach it behind the reader and
 * within what budget, and the fills queued to it, which are served until they land.
 */
import type { BlockStore } from './block-store.js'
import { TierHealth, type TierHealthOptions } from './tier-health.js'

export interface TierSpec {
  store: BlockStore
  /**
   * Fill the tier behind the reader, with at most this many bytes of fills in flight; past
   * it, fills are dropped and counted. Omit for a tier that takes fills inline (memory).
   */
  maxPendingWriteBytes?: number
  health?: TierHealthOptions
}

export class Tier {
  readonly health: TierHealth
  readonly writeBehind: boolean
  readonly maxPendingBytes: number
  pendingBytes = 0
  /** Fills queued to this tier, by key string: served until they land. */
  readonly writing = new Map<string, Uint8Array>()
  constructor(
    readonly store: BlockStore,
    readonly index: number,
    spec: TierSpec,
  ) {
    this.health = new TierHealth(spec.health)
    this.writeBehind = spec.maxPendingWriteBytes !== undefined
    this.maxPendingBytes = spec.maxPendingWriteBytes ?? 0
  }
  get local(): boolean {
    return this.store.locality === 'local'
  }
  get pageable(): boolean {
    return this.store.pageIn !== undefined
  }
  queued(ks: string): Uint8Array | undefined {
    return this.writing.size > 0 ? this.writing.get(ks) : undefined
  }
  /** Runs a synchronous call on the tier, counting its errors; `fallback` when bypassed or failed. */
  guard<T>(fallback: T, call: () => T): T {
    if (!this.health.usable()) return fallback
    try {
      const result = call()
      this.health.success()
      return result
    } catch (err) {
      this.health.failure(err)
      return fallback
    }
  }
}
