/**
 * Writes TFRecord files: to a local path or to any Writable, uncompressed, GZIP or ZLIB.
 *
 * The framing is TensorFlow's (`tensorflow/core/lib/io/record_writer.cc`): u64 LE length,
 * masked CRC32C of those 8 bytes, the data, masked CRC32C of the data. Nothing else is
 * written, so an uncompressed file is byte-for-byte what TensorFlow's `TFRecordWriter`
 * produces for the same payloads. Compressed output goes through `node:zlib` (gzip members
 * and zlib streams that TensorFlow and any gunzip read; the compressed bytes themselves are
 * not promised to match TensorFlow's, which depend on its zlib settings).
 *
 * `write` honours backpressure: it resolves when the stream can take more, so a writer fed
 * from a fast producer stays bounded in memory.
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { constants, createDeflate, createGzip } from 'node:zlib'
import { crc32c, maskCrc } from './crc.js'
import type { Compression } from './compression.js'

export interface TFRecordWriterOptions {
  /** `'none'` (default), `'gzip'` or `'zlib'`. */
  compression?: Compression
  /** zlib compression level 0–9 for gzip/zlib. Default 6 (zlib's default). */
  level?: number
  /** End the target stream on `close()` when the target is a Writable you passed. Default true. */
  end?: boolean
}

/** Frames one record: header (12 bytes) and footer (4 bytes) around `data`. */
export function frameRecord(data: Uint8Array): { header: Uint8Array; footer: Uint8Array } {
  const header = new Uint8Array(12)
  const view = new DataView(header.buffer)
  view.setUint32(0, data.length % 2 ** 32, true)
  view.setUint32(4, Math.floor(data.length / 2 ** 32), true)
  view.setUint32(8, maskCrc(crc32c(header.subarray(0, 8))), true)
  const footer = new Uint8Array(4)
  new DataView(footer.buffer).setUint32(0, maskCrc(crc32c(data)), true)
  return { header, footer }
}

/** Serializes whole records into one TFRecord byte string (uncompressed), for tests and small files. */
export function encodeTFRecords(records: Iterable<Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = []
  let total = 0
  for (const data of records) {
    const { header, footer } = frameRecord(data)
    parts.push(header, data, footer)
    total += 16 + data.length
  }
  const out = new Uint8Array(total)
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

const encoder = new TextEncoder()

export class TFRecordWriter {
  /** Records written so far. */
  records = 0
  /** Uncompressed bytes written so far, framing included. */
  bytes = 0
  private readonly head: Writable
  private readonly sink: Writable
  private readonly endSink: boolean
  private error: Error | undefined
  private closed: Promise<void> | undefined

  /** `target`: a local path, a `file:` URL, or a Writable. */
  constructor(target: string | URL | Writable, options: TFRecordWriterOptions = {}) {
    const compression = options.compression ?? 'none'
    if (compression !== 'none' && compression !== 'gzip' && compression !== 'zlib') {
      throw new RangeError(`TFRecordWriter: compression must be 'none', 'gzip' or 'zlib', got ${JSON.stringify(compression)}`)
    }
    const level = options.level ?? constants.Z_DEFAULT_COMPRESSION
    if (!Number.isInteger(level) || level < -1 || level > 9) {
      throw new RangeError(`TFRecordWriter: level must be an integer from 0 to 9, got ${level}`)
    }
    if (typeof target === 'string' || target instanceof URL) {
      const path = target instanceof URL || target.startsWith('file:') ? fileURLToPath(target) : target
      this.sink = createWriteStream(path)
      this.endSink = true
    } else if (target !== null && typeof target === 'object' && typeof (target as Writable).write === 'function') {
      this.sink = target
      this.endSink = options.end ?? true
    } else {
      throw new TypeError('TFRecordWriter: target must be a path, a file: URL or a Writable')
    }
    this.sink.on('error', (err) => (this.error ??= err))
    if (compression === 'none') {
      this.head = this.sink
    } else {
      this.head = compression === 'gzip' ? createGzip({ level }) : createDeflate({ level })
      this.head.on('error', (err) => (this.error ??= err))
      this.head.pipe(this.sink, { end: this.endSink })
    }
  }

  /** Appends one record (strings as UTF-8). Resolves when the stream can take more. */
  async write(record: Uint8Array | string): Promise<void> {
    if (this.closed) throw new Error('TFRecordWriter: write after close')
    if (this.error) throw this.error
    const data = typeof record === 'string' ? encoder.encode(record) : record
    const { header, footer } = frameRecord(data)
    this.head.write(header)
    this.head.write(data)
    const ok = this.head.write(footer)
    this.records++
    this.bytes += data.length + 16
    if (!ok) await this.drain()
    if (this.error) throw this.error
  }

  private async drain(): Promise<void> {
    // events.once rejects if the stream emits 'error' first
    await once(this.head, 'drain')
  }

  /** Flushes and ends the output (and the target, unless `end: false`). */
  close(): Promise<void> {
    this.closed ??= this.finish()
    return this.closed
  }

  private async finish(): Promise<void> {
    if (this.error) throw this.error
    if (this.head === this.sink) {
      if (!this.endSink) return // nothing buffered here; the caller owns the stream
      this.sink.end()
      await finished(this.sink)
    } else {
      this.head.end()
      // when not ending the sink, done means zlib has handed all its output to the sink
      await finished(this.endSink ? this.sink : this.head)
    }
    if (this.error) throw this.error
  }
}
