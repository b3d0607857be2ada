/**
 * The bound on speculative bytes in flight across every handle of a reader. Prefetch asks
 * before it fetches and gives back when the fetch settles; when the budget is spent,
 * prefetch simply does less. Demand reads never ask.
 */

export class PrefetchBudget {
  private used = 0

  constructor(readonly maxBytes: number) {}

  tryAcquire(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false
    this.used += bytes
    return true
  }

  release(bytes: number): void {
    this.used -= bytes
  }

  get inflightBytes(): number {
    return this.used
  }
}
