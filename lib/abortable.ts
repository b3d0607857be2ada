/**
 * Waiting on a shared promise (a fetch other readers wait on too) with an AbortSignal of
 * one's own: an abort rejects this waiter with ERR_SLUICE_ABORTED at once, and leaves the
 * shared work running for the others.
 */
import { AbortError } from './errors.js'

export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, url: string): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) {
    // The abandoned promise may still reject (with the same abort): observe it.
    promise.catch(() => {})
    return Promise.reject(new AbortError(url, signal.reason))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError(url, signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

