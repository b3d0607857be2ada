/**
 * An in-memory (and local-file) double of `ObjectReader` for the TFRecord loader's tests and
 * benchmark, until and besides the real BlockReader.
 *
 * It behaves like the contract says a reader does: handles pinned to a version, `read` short
 * only at the end, `chunks` yielding block-aligned pieces of `chunkBytes` (small in tests so
 * records span chunk boundaries), every returned buffer fresh and never mutated afterwards.
 * It also records what the loader asked for (opens, reads, prefetch hints), so tests can check
 * read-ahead and ranged reads, and can inject failures.
 */
import { createHash } from 'node:crypto'
import { open as openFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { NotFoundError } from '../../lib/errors.js'
import type { ObjectHandle, ObjectInfo, ObjectReader, ReadOptions } from '../../lib/types.js'

export interface ReaderDoubleOptions {
  /** Size of the pieces `chunks()` yields (aligned to multiples of it). Default 64 KiB. */
  chunkBytes?: number
  /** Reported as `cacheDir` (where the loader keeps indexes). */
  cacheDir?: string
}

export interface ReaderDoubleLog {
  opens: string[]
  reads: { url: string; position: number; length: number }[]
  prefetches: { url: string; position: number; length: number }[]
  chunkCalls: { url: string; start: number; end: number }[]
}

export class ReaderDouble implements ObjectReader {
  readonly cacheDir: string | undefined
  readonly chunkBytes: number
  readonly log: ReaderDoubleLog = { opens: [], reads: [], prefetches: [], chunkCalls: [] }
  openHandles = 0
  /** Bytes a single prefetch() call reaches at most, like a reader whose prefetch budget runs out. */
  prefetchBudgetBytes = Infinity
  /** Bytes returned by read and chunks, over all handles. */
  bytesServed = 0
  private readonly objects = new Map<string, { bytes: Uint8Array; version: string }>()

  constructor(options: ReaderDoubleOptions = {}) {
    this.chunkBytes = options.chunkBytes ?? 64 * 1024
    this.cacheDir = options.cacheDir
  }

  /** Stores an object under `url` (any scheme); a new put gives it a new version. */
  put(url: string, bytes: Uint8Array): void {
    const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
    this.objects.set(url, { bytes: new Uint8Array(bytes), version })
  }

  delete(url: string): void {
    this.objects.delete(url)
  }

  async stat(url: string, _options?: ReadOptions): Promise<ObjectInfo> {
    const mem = this.objects.get(url)
    if (mem) return { url, size: mem.bytes.length, version: mem.version }
    const path = localPath(url)
    if (path === undefined) throw new NotFoundError(url)
    try {
      const s = await stat(path)
      if (!s.isFile()) throw new Error('not a file')
      return { url: pathToFileURL(path).href, size: s.size, version: `${s.size}-${s.mtimeMs}-${s.ino}` }
    } catch (err) {
      throw new NotFoundError(url, err)
    }
  }

  async list(prefix: string, _options?: ReadOptions): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = []
    for (const [url, { bytes, version }] of this.objects) {
      if (url.startsWith(prefix)) out.push({ url, size: bytes.length, version })
    }
    const path = localPath(prefix)
    if (path !== undefined) {
      const dir = path.endsWith('/') ? path : path.slice(0, path.lastIndexOf('/') + 1)
      const names = await readdir(dir, { recursive: true }).catch(() => [] as string[])
      for (const name of names) {
        const full = join(dir, name)
        if (!full.startsWith(path)) continue
        const s = await stat(full).catch(() => undefined)
        if (s?.isFile()) out.push({ url: pathToFileURL(full).href, size: s.size, version: `${s.size}-${s.mtimeMs}-${s.ino}` })
      }
    }
    return out
  }

  async open(target: string | ObjectInfo, options?: ReadOptions): Promise<ObjectHandle> {
    const url = typeof target === 'string' ? target : target.url
    const info = await this.stat(url, options)
    this.log.opens.push(info.url)
    this.openHandles++
    const mem = this.objects.get(url)
    const file = mem ? undefined : await openFile(localPath(url)!, 'r')
    const log = this.log
    const chunkBytes = this.chunkBytes
    let closed = false
    const double = this
    const readAt = async (position: number, length: number): Promise<Uint8Array> => {
      if (closed) throw new Error(`handle for ${url} is closed`)
      const end = Math.min(info.size, position + length)
      if (end <= position) return new Uint8Array(0)
      double.bytesServed += end - position
      if (mem) return mem.bytes.slice(position, end)
      const buf = new Uint8Array(end - position)
      let done = 0
      while (done < buf.length) {
        const { bytesRead } = await file!.read(buf, done, buf.length - done, position + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return buf
    }
    return {
      url: info.url,
      size: info.size,
      createReadStream() {
        throw new Error('not used by the tests of this double')
      },
      version: info.version,
      info,
      async read(position, length) {
        log.reads.push({ url: info.url, position, length })
        return readAt(position, length)
      },
      async readInto(target, offset, position, length) {
        const bytes = await readAt(position, length)
        target.set(bytes, offset)
        return bytes.length
      },
      async *chunks(opts = {}) {
        const start = opts.start ?? 0
        const end = Math.min(opts.end ?? info.size, info.size)
        log.chunkCalls.push({ url: info.url, start, end })
        let pos = start
        while (pos < end) {
          if (opts.signal?.aborted) throw opts.signal.reason
          const next = Math.min(end, (Math.floor(pos / chunkBytes) + 1) * chunkBytes)
          yield await readAt(pos, next - pos)
          pos = next
        }
      },
      prefetch(position, length) {
        log.prefetches.push({ url: info.url, position, length })
        return Math.min(info.size, position + Math.min(length, double.prefetchBudgetBytes))
      },
      async close() {
        if (closed) return
        closed = true
        double.openHandles--
        await file?.close()
      },
    }
  }
}

function localPath(url: string): string | undefined {
  if (url.startsWith('file://')) return fileURLToPath(url)
  if (url.startsWith('/')) return url
  return undefined
}
