/**
 * Retries as a decorator over any Source, so S3, HTTP and files share one policy: bounded
 * attempts, exponential backoff with full jitter, and a per-request timeout that turns a
 * stalled response into a retry instead of a hang.
 *
 * Transient failures (5xx, 429/SlowDown, resets, timeouts, refused connections, bodies cut
 * short) are retried; a body cut short resumes from the first missing byte, so a retry never
 * refetches what already arrived and a short block is never returned. Everything else
 * (not found, access denied, version changed) fails at once. Request and byte counters feed
 * `BlockReader.stats()`.
 */
import {
  AbortError,
  ShortReadError,
  SourceError,
  SourceUnreachableError,
  TimeoutError,
  isSluiceError,
} from '../errors.js'
import type { ObjectInfo, SourceStats } from '../types.js'
import { clampRange, type RangeReadOptions, type Source } from './source.js'

export interface RetryOptions {
  /** Attempts per request, the first included. Default 5. */
  maxAttempts?: number
  /** First backoff ceiling in ms; doubles per attempt. Default 50. */
  baseDelayMs?: number
  /** Backoff ceiling in ms. Default 2000. */
  maxDelayMs?: number
  /** A request (headers and body) that takes longer is aborted and retried. Default 30000. */
  requestTimeoutMs?: number
}

export const RETRY_DEFAULTS: Required<RetryOptions> = {
  maxAttempts: 5,
  baseDelayMs: 50,
  maxDelayMs: 2000,
  requestTimeoutMs: 30_000,
}

export function newSourceStats(): SourceStats {
  return { requests: 0, gets: 0, stats: 0, lists: 0, bytes: 0, retries: 0, errors: 0 }
}

/** Splits one buffer into per-block copies (for sources that cannot fill blocks directly). */
export function splitBlocks(bytes: Uint8Array, blockSize: number): Uint8Array[] {
  if (bytes.length <= blockSize) return bytes.length === 0 ? [] : [bytes]
  const out: Uint8Array[] = []
  // new Uint8Array(view) copies; Buffer#slice would return a view pinning the whole run.
  for (let o = 0; o < bytes.length; o += blockSize) out.push(new Uint8Array(bytes.subarray(o, Math.min(o + blockSize, bytes.length))))
  return out
}

function isTransient(err: unknown): boolean {
  if (err instanceof ShortReadError || err instanceof TimeoutError || err instanceof SourceUnreachableError) return true
  if (err instanceof SourceError) return err.status === undefined || err.status >= 500 || err.status === 429
  if (isSluiceError(err)) return false
  // Anything unclassified from the network stack (resets, broken pipes) is worth one more try.
  return true
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError(undefined, signal.reason))
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(new AbortError(undefined, signal?.reason))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export class RetryingSource implements Source {
  readonly schemes: readonly string[]
  readonly options: Required<RetryOptions>

  constructor(
    readonly inner: Source,
    options: RetryOptions = {},
    readonly stats: SourceStats = newSourceStats(),
  ) {
    this.schemes = inner.schemes
    this.options = { ...RETRY_DEFAULTS, ...options }
  }

  stat(url: string, options: RangeReadOptions = {}): Promise<ObjectInfo> {
    return this.attempt(url, options.signal, 'stats', (signal) => this.inner.stat(url, { signal }))
  }

  list(prefix: string, options: RangeReadOptions = {}): Promise<ObjectInfo[]> {
    return this.attempt(prefix, options.signal, 'lists', (signal) => this.inner.list(prefix, { signal }))
  }

  async readRange(info: ObjectInfo, start: number, end: number, options: RangeReadOptions = {}): Promise<Uint8Array> {
    end = clampRange(info, start, end)
    let out: Uint8Array | undefined
    let have = 0
    const bytes = await this.attempt(info.url, options.signal, 'gets', async (signal) => {
      const part = await this.inner.readRange(info, start + have, end, { signal }).catch((err: unknown) => {
        if (err instanceof ShortReadError && err.partial && err.partial.length > 0) {
          // Keep what arrived; the next attempt asks for the rest only.
          out ??= Buffer.allocUnsafe(end - start)
          out.set(err.partial, have)
          have += err.partial.length
          this.stats.bytes += err.partial.length
        }
        throw err
      })
      this.stats.bytes += part.length
      if (out === undefined) return part
      out.set(part, have)
      return out
    })
    return bytes
  }

  /**
   * The range as `blockSize` buffers. A response cut short keeps its complete blocks and the
   * next attempt starts at the first missing one.
   */
  async readBlocks(info: ObjectInfo, start: number, end: number, blockSize: number, options: RangeReadOptions = {}): Promise<Uint8Array[]> {
    end = clampRange(info, start, end)
    const inner = this.inner
    if (!inner.readBlocks) return splitBlocks(await this.readRange(info, start, end, options), blockSize)
    const done: Uint8Array[] = []
    return this.attempt(info.url, options.signal, 'gets', async (signal) => {
      const from = start + done.length * blockSize
      const blocks = await inner.readBlocks!(info, from, end, blockSize, options.onProgress ? { signal, onProgress: options.onProgress } : { signal }).catch((err: unknown) => {
        if (err instanceof ShortReadError && err.completeBlocks && err.completeBlocks.length > 0) {
          done.push(...err.completeBlocks)
          for (const b of err.completeBlocks) this.stats.bytes += b.length
        }
        throw err
      })
      for (const b of blocks) this.stats.bytes += b.length
      return done.length === 0 ? blocks : [...done, ...blocks]
    })
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve()
  }

  private async attempt<T>(url: string, signal: AbortSignal | undefined, kind: 'gets' | 'stats' | 'lists', fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { maxAttempts, baseDelayMs, maxDelayMs, requestTimeoutMs } = this.options
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new AbortError(url, signal.reason)
      const timeout = AbortSignal.timeout(requestTimeoutMs)
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout
      this.stats.requests++
      this.stats[kind]++
      try {
        return await fn(combined)
      } catch (raw) {
        let err = raw
        if (signal?.aborted) throw new AbortError(url, raw)
        if (timeout.aborted) err = new TimeoutError(url, requestTimeoutMs, raw)
        if (!isTransient(err) || attempt >= maxAttempts) {
          this.stats.errors++
          if (err instanceof SourceUnreachableError) throw new SourceUnreachableError(url, attempt, err.cause)
          if (err instanceof SourceError && attempt > 1) {
            throw new SourceError(url, err.detail, { ...(err.status === undefined ? {} : { status: err.status }), attempts: attempt, cause: err })
          }
          if (!isSluiceError(err)) throw new SourceError(url, (err as Error)?.message ?? String(err), { attempts: attempt, cause: err })
          throw err
        }
        this.stats.retries++
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
        await sleep(Math.random() * ceiling, signal)
      }
    }
  }
}
