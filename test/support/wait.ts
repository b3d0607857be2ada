/**
 * Waiting on a condition instead of sleeping. A test that sleeps a fixed time before its
 * assertion guesses how long the event takes: too short and it fails on a busy machine, too
 * long and it wastes time, and either way it never says what it was waiting for. `waitFor`
 * polls the condition itself and fails the test, naming the condition, when a deadline passes.
 */

export interface WaitOptions {
  /** Give up (and throw) after this long. Default 10 s. */
  timeoutMs?: number
  /** Pause between polls. Default 20 ms. */
  intervalMs?: number
}

/**
 * Resolves with `probe()`'s first truthy result; rejects naming `what` (and the last result)
 * if none comes within the deadline. A probe that throws fails at once: an error (a failed
 * assertion inside the probe) is not "not yet".
 */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 20
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value as NonNullable<T>
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(value)})`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** `waitFor` for a synchronous condition polled every 2 ms (counters, budgets given back). */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  await waitFor(what, condition, { timeoutMs, intervalMs: 2 })
}

/**
 * `promise`'s outcome, or a rejection naming `what` if it has not settled within `timeoutMs`:
 * for an event that may never come (a close that hangs), which must fail the test rather
 * than hang the run.
 */
export async function settlesWithin<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
