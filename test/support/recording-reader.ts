/**
 * A real BlockReader with a log of what the layer above asked of it. Loader and FUSE tests
 * assert on the requests themselves (one ranged read per record, no indexing pass, prefetch
 * hints and how far each reached, how many bytes a slow consumer pulled), so they need to see
 * the calls; every answer, byte and error still comes from the BlockReader underneath, which
 * is the point: no hand-written reader decides what a handle does.
 */
import type { BlockReader } from '../../lib/block-reader.js'
import type { ObjectHandle, ObjectInfo, ObjectReader, ReadOptions } from '../../lib/types.js'

export interface ReaderLog {
  opens: string[]
  reads: { url: string; position: number; length: number }[]
  readIntos: { url: string; position: number; length: number }[]
  /** Every prefetch hint with the offset the reader said it reached. */
  prefetches: { url: string; position: number; length: number; reached: number }[]
  chunkCalls: { url: string; start: number; end: number }[]
}

export class RecordingReader implements ObjectReader {
  readonly log: ReaderLog = { opens: [], reads: [], readIntos: [], prefetches: [], chunkCalls: [] }
  /** Bytes handed out by read, readInto and chunks, over all handles. */
  bytesServed = 0

  constructor(readonly inner: BlockReader) {}

  get cacheDir(): string | undefined {
    return this.inner.cacheDir
  }

  get blockSize(): number {
    return this.inner.blockSize
  }

  /** Handles open now, as the reader itself counts them. */
  get openHandles(): number {
    return this.inner.stats().openHandles
  }

  stat(url: string, options?: ReadOptions): Promise<ObjectInfo> {
    return this.inner.stat(url, options)
  }

  list(prefix: string, options?: ReadOptions): Promise<ObjectInfo[]> {
    return this.inner.list(prefix, options)
  }

  async open(target: string | ObjectInfo, options?: ReadOptions): Promise<ObjectHandle> {
    const handle = await this.inner.open(target, options)
    this.log.opens.push(handle.url)
    return this.recorded(handle)
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  private recorded(h: ObjectHandle): ObjectHandle {
    const { log } = this
    const served = (n: number) => void (this.bytesServed += n)
    return {
      url: h.url,
      size: h.size,
      version: h.version,
      info: h.info,
      createReadStream: (options) => h.createReadStream(options),
      read(position, length, options) {
        log.reads.push({ url: h.url, position, length })
        return h.read(position, length, options).then((bytes) => {
          served(bytes.length)
          return bytes
        })
      },
      readInto(target, offset, position, length, options) {
        log.readIntos.push({ url: h.url, position, length })
        return h.readInto(target, offset, position, length, options).then((n) => {
          served(n)
          return n
        })
      },
      async *chunks(options = {}) {
        log.chunkCalls.push({ url: h.url, start: options.start ?? 0, end: Math.min(options.end ?? h.size, h.size) })
        for await (const chunk of h.chunks(options)) {
          served(chunk.length)
          yield chunk
        }
      },
      prefetch(position, length) {
        const reached = h.prefetch(position, length)
        log.prefetches.push({ url: h.url, position, length, reached })
        return reached
      },
      close: () => h.close(),
    }
  }
}
