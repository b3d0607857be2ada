/**
 * Decides when a failing tier is bypassed. A few consecutive errors (disk full, I/O errors,
 * map full) mark the tier unhealthy; it is skipped for a cool-down, then tried again, and one
 * success makes it healthy. Reads never wait on a tier that keeps failing.
 *
 * The same rule serves a whole tier in the composition and each directory of a disk tier
 * spread over several (disk-set.ts), and both report it in their stats the same way.
 */
import type { TierStats } from '../types.js'

export interface TierHealthOptions {
  /** Consecutive failures that mark the tier unhealthy. Default 3. */
  maxConsecutiveErrors?: number
  /** How long an unhealthy tier is bypassed before it is tried again, in ms. Default 10000. */
  cooldownMs?: number
}

export class TierHealth {
  private consecutive = 0
  private bypassUntil = 0
  errors = 0
  lastError: string | undefined
  private readonly maxConsecutive: number
  private readonly cooldownMs: number

  constructor(options: TierHealthOptions = {}) {
    this.maxConsecutive = options.maxConsecutiveErrors ?? 3
    this.cooldownMs = options.cooldownMs ?? 10_000
  }

  /** Whether the tier should be used now. */
  usable(now = Date.now()): boolean {
    return this.consecutive < this.maxConsecutive || now >= this.bypassUntil
  }

  get healthy(): boolean {
    return this.consecutive < this.maxConsecutive
  }

  success(): void {
    this.consecutive = 0
  }

  failure(err: unknown, now = Date.now()): void {
    this.errors++
    this.consecutive++
    this.lastError = err instanceof Error ? err.message : String(err)
    if (this.consecutive >= this.maxConsecutive) this.bypassUntil = now + this.cooldownMs
  }

  /** A store's own stats with the errors and bypass state seen here added. */
  report<S extends TierStats>(stats: S): S {
    const lastError = this.lastError ?? stats.lastError
    return { ...stats, errors: stats.errors + this.errors, healthy: stats.healthy && this.healthy, ...(lastError === undefined ? {} : { lastError }) }
  }
}
