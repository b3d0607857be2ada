/**
 * A Source that wraps any other Source and misbehaves on purpose, for tests of everything
 * above the source seam (retries, the scheduler, the cache, the loaders, the mount) without
 * hand-written readers. Exported from `sluice/testing`.
 *
 * The fault proxy (fault-proxy.ts) breaks real HTTP; this breaks the Source contract itself,
 * which is what a test needs when it must hold a request open until it says so (`stall` and
 * `release`), count how many requests the source has at once, see the exact range of every
 * request (a retry's resume point), or fail reads of one URL with a given error class. It
 * also delivers bodies the way a network does when asked (`pieceBytes`): block buffers
 * filled a piece at a time, with progress reported after each piece, so readers see blocks
 * arrive instead of land whole, which an in-memory source never shows them.
 *
 * Faults apply per call, before the call reaches the inner source (errors, delays, stalls) or
 * to its body (truncation). Each call is one "request": a retry above this source is a new
 * call and may meet a different fault.
 */
import { allocBlock } from '../block-buffer.js'
import { ShortReadError } from '../errors.js'
import { clampRange, type BlockProgress, type RangeReadOptions, type Source } from '../source/source.js'
import type { ObjectInfo } from '../types.js'

export type SourceOperation = 'stat' | 'read' | 'list'

/** Which calls a fault applies to. */
export interface FaultMatch {
  /** Operations it applies to (`read` is readRange and readBlocks). Default `['read']`. */
  operations?: readonly SourceOperation[]
  /** Only URLs (prefixes, for list) containing this string or matching this pattern. Default: every URL. */
  url?: string | RegExp
  /** 1-based numbers of the matching calls it fires on, counted per fault. Default: every matching call. */
  nth?: readonly number[]
}

/** What a fault does. */
export type FaultAction =
  /** Rejects with the error `error(url)` builds (a fresh one per call, naming the URL). */
  | { kind: 'error'; error: (url: string) => Error }
  /** Waits `ms` milliseconds, then passes the call on; an abort of the call's signal ends the wait. */
  | { kind: 'delay'; ms: number }
  /**
   * Reads only: the body stops after `bytes` bytes, as a connection closed mid-body would.
   * The call rejects with ShortReadError carrying what arrived (the partial buffer of a single
   * buffer read, the complete blocks of a block read), after reporting that progress.
   */
  | { kind: 'truncate'; bytes: number }
  /** Holds the call until `release()`, or until its signal aborts (a request timeout, the caller's abort). */
  | { kind: 'stall' }

export type SourceFault = FaultMatch & FaultAction

export interface FaultySourceOptions {
  faults?: readonly SourceFault[]
  /**
   * Deliver every read's body in pieces of this many bytes, one macrotask apart, reporting
   * progress (`onProgress`) after each piece, as a body arriving from the network would.
   * Default: the whole body at once.
   */
  pieceBytes?: number
  /** URL schemes to serve. Default: the inner source's. */
  schemes?: readonly string[]
}

/** One call that reached this source, in arrival order. `start`/`end` for reads. */
export interface SourceRequest {
  operation: SourceOperation
  url: string
  start?: number
  end?: number
}

interface Held {
  release: () => void
}

export class FaultySource implements Source {
  readonly schemes: readonly string[]
  /** Every call, faulted or not, in the order it arrived. */
  readonly requests: SourceRequest[] = []
  /** Faults fired so far. */
  injected = 0
  /** Reads under way at the inner source or held here, now. */
  readsInFlight = 0
  /** The most reads there ever were under way at once. */
  maxReadsInFlight = 0
  private faults: readonly SourceFault[] = []
  private readonly matched = new Map<SourceFault, number>()
  private readonly pieceBytes: number | undefined
  private readonly held: Held[] = []
  private readonly stallWaiters = new Set<() => void>()

  constructor(
    readonly inner: Source,
    options: FaultySourceOptions = {},
  ) {
    this.schemes = options.schemes ?? inner.schemes
    if (options.pieceBytes !== undefined && !(Number.isSafeInteger(options.pieceBytes) && options.pieceBytes > 0)) {
      throw new RangeError(`FaultySource option pieceBytes must be a positive integer, got ${options.pieceBytes}`)
    }
    this.pieceBytes = options.pieceBytes
    this.setFaults(options.faults ?? [])
  }

  /** Replaces the faults; their `nth` counts start again from zero. */
  setFaults(faults: readonly SourceFault[]): void {
    faults.forEach((f, i) => {
      const where = `FaultySource fault ${i}`
      if (f.nth !== undefined && !f.nth.every((n) => Number.isSafeInteger(n) && n >= 1)) throw new RangeError(`${where}: nth must hold 1-based call numbers`)
      if (f.kind === 'truncate' && !(Number.isSafeInteger(f.bytes) && f.bytes >= 0)) throw new RangeError(`${where}: truncate bytes must be a non-negative integer`)
      if (f.kind === 'truncate' && (f.operations ?? ['read']).some((op) => op !== 'read')) throw new TypeError(`${where}: truncate applies to reads only`)
      if (f.kind === 'delay' && !(f.ms >= 0)) throw new RangeError(`${where}: delay ms must be >= 0`)
    })
    this.faults = [...faults]
    this.matched.clear()
  }

  /** Calls held by a `stall` fault now. */
  get stalled(): number {
    return this.held.length
  }

  /** Lets up to `count` held calls (oldest first) go on to the inner source; returns how many. */
  release(count = Number.POSITIVE_INFINITY): number {
    const freed = this.held.splice(0, Math.min(count, this.held.length))
    for (const h of freed) h.release()
    return freed.length
  }

  /** Resolves once at least `count` calls are held; rejects after `timeoutMs` (a test's bound). */
  whenStalled(count: number, timeoutMs = 5000): Promise<void> {
    if (this.held.length >= count) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.held.length < count) return
        clearTimeout(timer)
        this.stallWaiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.stallWaiters.delete(check)
        reject(new Error(`FaultySource: ${this.held.length} call(s) stalled after ${timeoutMs} ms, expected ${count}`))
      }, timeoutMs)
      this.stallWaiters.add(check)
    })
  }

  stat(url: string, options: RangeReadOptions = {}): Promise<ObjectInfo> {
    return this.call({ operation: 'stat', url }, options.signal, () => this.inner.stat(url, signalOnly(options)))
  }

  list(prefix: string, options: RangeReadOptions = {}): Promise<ObjectInfo[]> {
    return this.call({ operation: 'list', url: prefix }, options.signal, () => this.inner.list(prefix, signalOnly(options)))
  }

  async readRange(info: ObjectInfo, start: number, end: number, options: RangeReadOptions = {}): Promise<Uint8Array> {
    end = clampRange(info, start, end)
    return this.call({ operation: 'read', url: info.url, start, end }, options.signal, async (fault) => {
      const bytes = await this.inner.readRange(info, start, end, signalOnly(options))
      if (fault?.kind !== 'truncate' || fault.bytes >= bytes.length) return bytes
      throw new ShortReadError(info.url, start, end - start, fault.bytes, new Uint8Array(bytes.subarray(0, fault.bytes)))
    })
  }

  async readBlocks(info: ObjectInfo, start: number, end: number, blockSize: number, options: RangeReadOptions = {}): Promise<Uint8Array[]> {
    end = clampRange(info, start, end)
    return this.call({ operation: 'read', url: info.url, start, end }, options.signal, async (fault) => {
      const cut = fault?.kind === 'truncate' ? Math.min(fault.bytes, end - start) : undefined
      // The inner source's own block reads, when nothing here changes how the body arrives.
      if (this.inner.readBlocks && this.pieceBytes === undefined && cut === undefined) {
        return this.inner.readBlocks(info, start, end, blockSize, options)
      }
      const bytes = await this.inner.readRange(info, start, end, signalOnly(options))
      const blocks = await this.deliver(bytes, start, blockSize, cut ?? bytes.length, options)
      if (cut === undefined || cut >= bytes.length) return blocks
      const complete = blocks.slice(0, Math.floor(cut / blockSize))
      throw new ShortReadError(info.url, start, end - start, cut, blocks.length === 1 ? blocks[0]!.subarray(0, cut) : undefined, complete)
    })
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve()
  }

  /** Logs the call, applies its fault, counts it while it is under way. */
  private async call<T>(request: SourceRequest, signal: AbortSignal | undefined, run: (fault: SourceFault | undefined) => Promise<T>): Promise<T> {
    this.requests.push(request)
    const fault = this.match(request.operation, request.url)
    const isRead = request.operation === 'read'
    if (isRead) this.maxReadsInFlight = Math.max(this.maxReadsInFlight, ++this.readsInFlight)
    try {
      if (fault?.kind === 'error') throw fault.error(request.url)
      if (fault?.kind === 'delay') await delay(fault.ms, signal)
      if (fault?.kind === 'stall') await this.hold(signal)
      return await run(fault)
    } finally {
      if (isRead) this.readsInFlight--
    }
  }

  private match(operation: SourceOperation, url: string): SourceFault | undefined {
    for (const f of this.faults) {
      if (!(f.operations ?? ['read']).includes(operation)) continue
      // search() ignores a /g pattern's lastIndex, so a pattern matches the same way every call.
      if (f.url !== undefined && (typeof f.url === 'string' ? !url.includes(f.url) : url.search(f.url) < 0)) continue
      const n = (this.matched.get(f) ?? 0) + 1
      this.matched.set(f, n)
      if (f.nth === undefined || f.nth.includes(n)) {
        this.injected++
        return f
      }
    }
    return undefined
  }

  private hold(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)
      const entry: Held = {
        release: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        const at = this.held.indexOf(entry)
        if (at >= 0) this.held.splice(at, 1)
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.held.push(entry)
      for (const check of [...this.stallWaiters]) check()
    })
  }

  /**
   * Copies the first `upTo` bytes of a body into fresh block buffers, a piece at a time when
   * `pieceBytes` is set, reporting progress after each piece. The buffers reported are the
   * ones returned: bytes a reader saw arrive stay as they were.
   */
  private async deliver(bytes: Uint8Array, start: number, blockSize: number, upTo: number, options: RangeReadOptions): Promise<Uint8Array[]> {
    const blocks: Uint8Array[] = []
    for (let o = 0; o < bytes.length; o += blockSize) blocks.push(allocBlock(Math.min(blockSize, bytes.length - o)))
    const piece = this.pieceBytes ?? Math.max(1, upTo)
    const onProgress: BlockProgress | undefined = options.onProgress
    for (let filled = 0; filled < upTo; ) {
      const next = Math.min(upTo, filled + piece)
      for (let at = filled; at < next; ) {
        const b = Math.floor(at / blockSize)
        const to = Math.min(next, (b + 1) * blockSize)
        blocks[b]!.set(bytes.subarray(at, to), at - b * blockSize)
        at = to
      }
      filled = next
      onProgress?.(start, blocks, filled)
      if (this.pieceBytes !== undefined && filled < upTo) {
        await new Promise((resolve) => setImmediate(resolve))
        options.signal?.throwIfAborted()
      }
    }
    return blocks
  }
}

function signalOnly(options: RangeReadOptions): RangeReadOptions {
  return options.signal === undefined ? {} : { signal: options.signal }
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
