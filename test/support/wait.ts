/**
 * Waiting on a condition, bounded: for events a test can observe but not subscribe to (a
 * counter reaching a value, a budget given back). It polls every few milliseconds and fails
 * the test with `what` after `timeoutMs`, so a broken behaviour fails instead of hanging, and
 * no fixed sleep stands in for the event.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
