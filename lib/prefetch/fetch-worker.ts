/**
 * Worker-thread side of PiscinaFetchPool: fetch one range with the same retrying sources the
 * main thread uses, split it into per-block ArrayBuffers and transfer them back.
 *
 * Sources are built once per worker from plain options (an S3 client per distinct config).
 * Errors come back as values, not throws, so their class and `code` survive the thread hop
 * (structured clone keeps own properties of Error objects).
 */
import { handOver } from '../block-buffer.js'
import { Piscina } from 'piscina'
import { RetryingSource, newSourceStats, type RetryOptions } from '../source/retrying-source.js'
import { SourceRegistry } from '../source/registry.js'
import type { S3Options } from '../source/s3-client.js'
import type { ObjectInfo } from '../types.js'

export interface FetchTask {
  info: ObjectInfo
  start: number
  end: number
  blockSize: number
  s3: S3Options
  retry: RetryOptions
}

export interface FetchResult {
  blocks: ArrayBuffer[]
  /** Where each block starts in its buffer: 0, or the header room (lib/block-buffer.ts). */
  offsets: number[]
  requests: number
  retries: number
  bytes: number
  error?: SerializedError
}

export interface SerializedError {
  name: string
  message: string
  code?: string
  url?: string
  status?: number
}

function serializeError(err: unknown): SerializedError {
  const e = err as { name?: string; message?: string; code?: string; url?: string; status?: number }
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.url === 'string' ? { url: e.url } : {}),
    ...(typeof e?.status === 'number' ? { status: e.status } : {}),
  }
}

const registries = new Map<string, SourceRegistry>()

function registryFor(task: FetchTask): SourceRegistry {
  const id = JSON.stringify([task.s3, task.retry])
  let r = registries.get(id)
  if (!r) {
    r = new SourceRegistry(task.s3, task.retry)
    registries.set(id, r)
  }
  return r
}

/** An ArrayBuffer holding exactly these bytes, safe to transfer (never a pooled slab). */
function ownBuffer(bytes: Uint8Array): { buffer: ArrayBuffer; offset: number } {
  const whole = handOver(bytes)
  if (whole !== undefined) return whole
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return { buffer: bytes.buffer, offset: 0 }
  }
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return { buffer: copy.buffer, offset: 0 }
}

export default async function fetchRange(task: FetchTask): Promise<FetchResult> {
  const source: RetryingSource = registryFor(task).sourceFor(task.info.url)
  const stats = newSourceStats()
  const counted = new RetryingSource(source.inner, source.options, stats)
  try {
    const owned = (await counted.readBlocks(task.info, task.start, task.end, task.blockSize)).map(ownBuffer)
    const blocks = owned.map((o) => o.buffer)
    const offsets = owned.map((o) => o.offset)
    const result: FetchResult = { blocks, offsets, requests: stats.requests, retries: stats.retries, bytes: stats.bytes }
    // Transfer every block buffer with the result instead of cloning it.
    const transferable = { [Piscina.transferableSymbol]: blocks, [Piscina.valueSymbol]: result }
    return Piscina.move(transferable as never) as unknown as FetchResult
  } catch (error) {
    return { blocks: [], offsets: [], requests: stats.requests, retries: stats.retries, bytes: stats.bytes, error: serializeError(error) }
  }
}
