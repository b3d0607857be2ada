/**
 * Where fetches run: inline on the caller's event loop, or on a piscina pool of worker
 * threads that do the request, the body handling and the split into blocks, so that protocol
 * work (signing, parsing, copying bodies) stays off the training loop's thread.
 *
 * Either way a fetch returns one exactly-sized buffer per block (filled straight from the
 * response where the source can), so the memory tier accounts each block exactly and never
 * keeps a large shared buffer alive through one small view.
 * From workers the block buffers are transferred, never cloned.
 */
import { adoptBlock } from '../block-buffer.js'
import { Piscina } from 'piscina'
import type { RetryOptions } from '../source/retrying-source.js'
import type { S3Options } from '../source/s3-client.js'
import type { SourceRegistry } from '../source/registry.js'
import type { BlockProgress } from '../source/source.js'
import type { ObjectInfo, SourceStats } from '../types.js'
import { schemeOf } from '../url.js'
import type { FetchTask, FetchResult, SerializedError } from './fetch-worker.js'
import {
  AbortError,
  AccessDeniedError,
  BucketNotFoundError,
  NotFoundError,
  ObjectChangedError,
  ShortReadError,
  SluiceError,
  SourceError,
  SourceUnreachableError,
  TimeoutError,
  UnsupportedOperationError,
  type SluiceErrorCode,
} from '../errors.js'

export interface FetchRequest {
  info: ObjectInfo
  start: number
  end: number
  blockSize: number
  signal?: AbortSignal
  /** Hears the body arrive (inline fetches from sources that stream blocks; workers do not). */
  onProgress?: BlockProgress
}

export interface FetchPool {
  /** Blocks covering `[start, end)`; `start` is block-aligned. */
  fetch(request: FetchRequest): Promise<Uint8Array[]>
  close(): Promise<void>
}

/** Error classes by name, so errors from a worker keep their class (`instanceof` works). */
const CLASSES: Record<string, { prototype: SluiceError }> = {
  NotFoundError, BucketNotFoundError, AccessDeniedError, ObjectChangedError, SourceUnreachableError,
  TimeoutError, SourceError, ShortReadError, AbortError, UnsupportedOperationError,
}

/** Rebuilds a worker's error on this thread, keeping its class, code, URL, status and message. */
function reviveError(e: SerializedError): Error {
  if (e.code?.startsWith('ERR_SLUICE_')) {
    const err = new SluiceError(e.code as SluiceErrorCode, e.message, e.url === undefined ? {} : { url: e.url })
    const cls = CLASSES[e.name]
    if (cls) Object.setPrototypeOf(err, cls.prototype)
    err.name = e.name
    if (e.status !== undefined) Object.defineProperty(err, 'status', { value: e.status, enumerable: true })
    return err
  }
  const err = new Error(e.message)
  err.name = e.name
  return err
}

export class InlineFetchPool implements FetchPool {
  constructor(private readonly sources: SourceRegistry) {}

  async fetch({ info, start, end, blockSize, signal, onProgress }: FetchRequest): Promise<Uint8Array[]> {
    return this.sources.sourceFor(info.url).readBlocks(info, start, end, blockSize, {
      ...(signal === undefined ? {} : { signal }),
      ...(onProgress === undefined ? {} : { onProgress }),
    })
  }

  async close(): Promise<void> {}
}

/** Schemes a worker can serve on its own (it rebuilds the source from plain options). */
const WORKER_SCHEMES = new Set(['s3', 'file', 'http', 'https'])

export class PiscinaFetchPool implements FetchPool {
  private readonly pool: Piscina<FetchTask, FetchResult>
  private readonly inline: InlineFetchPool

  constructor(
    threads: number,
    private readonly sources: SourceRegistry,
    private readonly s3: S3Options,
    private readonly retry: RetryOptions,
    private readonly stats: SourceStats,
  ) {
    this.pool = new Piscina({
      filename: new URL('./fetch-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      // Many fetches per thread: each is mostly waiting on the network.
      concurrentTasksPerWorker: 16,
      idleTimeout: 60_000,
    })
    this.inline = new InlineFetchPool(sources)
  }

  async fetch(request: FetchRequest): Promise<Uint8Array[]> {
    const { info, start, end, blockSize, signal } = request
    // Sources registered in this process only (MemorySource) cannot cross to a worker.
    if (!WORKER_SCHEMES.has(schemeOf(info.url)) || this.sources.hasCustom(info.url)) return this.inline.fetch(request)
    signal?.throwIfAborted()
    const task: FetchTask = { info, start, end, blockSize, s3: this.s3, retry: this.retry }
    const result = await this.pool.run(task, signal === undefined ? {} : { signal })
    this.stats.requests += result.requests
    this.stats.gets += result.requests
    this.stats.retries += result.retries
    this.stats.bytes += result.bytes
    if (result.error !== undefined) {
      this.stats.errors++
      throw reviveError(result.error)
    }
    return result.blocks.map((b, i) => adoptBlock(b, result.offsets[i] ?? 0))
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true })
  }
}
