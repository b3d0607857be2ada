/**
 * A plain local-file `ObjectReader` for the benchmarks: every chunk is one `fs.read` into a
 * fresh buffer, with no cache, no prefetch and no verification. It is what a job reading
 * local files does, so the FUSE scenario's consumer reads the mount through it (every byte
 * crosses the kernel and the mount, as a TensorFlow job's reads would), and the TFRecord
 * benchmark can put the loader over it (`BENCH_READER=plain`) to separate the loader's cost
 * from the cache's. Files only (`file://` URLs or absolute paths); listing is not offered.
 */
import { open, stat } from 'node:fs/promises'
import { NotFoundError, UnsupportedOperationError, canonicalUrl, filePathOf } from '../../lib/index.js'
import type { ObjectHandle, ObjectInfo, ObjectReader } from '../../lib/index.js'

export class PlainFileReader implements ObjectReader {
  readonly cacheDir = undefined

  constructor(private readonly chunkBytes = 4 * 1024 * 1024) {}

  async stat(url: string): Promise<ObjectInfo> {
    const st = await stat(filePathOf(url)).catch((err: unknown) => {
      throw new NotFoundError(url, err)
    })
    if (!st.isFile()) throw new NotFoundError(url)
    return { url: canonicalUrl(url), size: st.size, version: `${st.size}-${st.mtimeMs}-${st.ino}`, mtimeMs: st.mtimeMs }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    throw new UnsupportedOperationError('listing', prefix)
  }

  async open(target: string | ObjectInfo): Promise<ObjectHandle> {
    const info = typeof target === 'string' ? await this.stat(target) : target
    const file = await open(filePathOf(info.url), 'r')
    const chunkBytes = this.chunkBytes
    const readAt = async (position: number, length: number): Promise<Uint8Array> => {
      const end = Math.min(info.size, position + length)
      const buf = new Uint8Array(Math.max(0, end - position))
      let done = 0
      while (done < buf.length) {
        const { bytesRead } = await file.read(buf, done, buf.length - done, position + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done === buf.length ? buf : buf.subarray(0, done)
    }
    return {
      url: info.url,
      size: info.size,
      version: info.version,
      info,
      read: (position, length) => readAt(position, length),
      createReadStream: () => {
        throw new Error('the plain file reader serves the TFRecord benchmark, which streams with chunks()')
      },
      async readInto(target, offset, position, length) {
        const bytes = await readAt(position, Math.min(length, target.length - offset))
        target.set(bytes, offset)
        return bytes.length
      },
      async *chunks(options = {}) {
        const end = Math.min(options.end ?? info.size, info.size)
        for (let pos = options.start ?? 0; pos < end; ) {
          options.signal?.throwIfAborted()
          const next = Math.min(end, (Math.floor(pos / chunkBytes) + 1) * chunkBytes)
          yield await readAt(pos, next - pos)
          pos = next
        }
      },
      prefetch: (position) => position,
      close: () => file.close(),
    }
  }
}
