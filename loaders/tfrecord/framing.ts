/**
 * TFRecord framing: turns a stream of byte chunks into verified record payloads.
 *
 * A record on disk is `u64 length (LE) | u32 masked CRC32C of the 8 length bytes | data |
 * u32 masked CRC32C of data`. The framer is synchronous and push-based: the caller feeds it
 * the chunks of one shard (cache blocks or inflated output) and collects records into arrays,
 * so the async machinery above it pays per chunk, not per record. That is what lets 1 KB
 * records run at hundreds of thousands per second.
 *
 * Zero copy: a record that lies inside one chunk is returned as a `subarray` view of that
 * chunk. Chunks handed out by the block reader (and by zlib) are immutable and never reused,
 * so a view stays valid after the iterator moves on. Only a record that spans chunks is
 * assembled into its own buffer: one copy, never more.
 *
 * Corruption: every check names the record's byte offset in the (uncompressed) stream. A
 * length is never trusted before its CRC (when verifying) and is bounded by `maxRecordBytes`
 * and, when the stream size is known, by the bytes left; a bogus length never becomes a huge
 * allocation. In skip mode a bad length makes the framer resynchronise: it scans forward one
 * byte at a time for the next header whose length CRC holds (a slow path that runs only on
 * damaged data).
 */
import { TFRecordCorruptionError, type TFRecordCheck } from '../../lib/index.js'
import { crc32c, maskCrc } from './crc.js'

/** Bytes of framing around each record's data: 8 length + 4 length CRC + 4 data CRC. */
export const FRAME_OVERHEAD = 16
const HEADER = 12

export interface FramerOptions {
  /** URL for error messages. */
  url: string
  /** Check both CRCs. */
  verify: boolean
  /** Largest record data length accepted, bytes. */
  maxRecordBytes: number
  /** Bytes in the whole stream when known (uncompressed objects): lengths past it are truncation. */
  streamBytes?: number | undefined
  /** 'error' throws TFRecordCorruptionError; 'skip' counts the damage and carries on. */
  onCorrupt: 'error' | 'skip'
  /** Called for each corrupt region in skip mode. */
  onSkip?: ((error: TFRecordCorruptionError) => void) | undefined
}

/** Where the framer puts what it finds; arrays are appended to, never cleared by the framer. */
export interface RecordSink {
  records: Uint8Array[]
  /** Stream offset of each record's header, parallel to `records`. */
  offsets: number[]
}

const enum State {
  Header,
  Body,
  Resync,
}

export class RecordFramer {
  /** Corrupt regions skipped (skip mode). */
  corrupt = 0
  private readonly url: string
  private readonly verify: boolean
  private readonly maxRecordBytes: number
  private readonly streamBytes: number
  private readonly skip: boolean
  private readonly onSkip: ((error: TFRecordCorruptionError) => void) | undefined

  private state = State.Header
  /** Stream offset of the next byte pushed. */
  private position = 0
  /** Header bytes carried over a chunk boundary. */
  private readonly header = new Uint8Array(HEADER)
  private headerFill = 0
  /** The record being assembled across chunks: data plus its 4 CRC bytes. */
  private body: Uint8Array | undefined
  private bodyFill = 0
  private recordLength = 0
  private recordOffset = 0
  /** Resync: bytes (< 12) not yet scanned, from `carryOffset` on. */
  private carry: Uint8Array | undefined
  private carryOffset = 0
  /** After a truncation there is no next record to find. */
  private resyncDisabled = false
  /** Set with resyncDisabled once resync has run: everything to the end is dropped. */
  private dropAll = false

  constructor(options: FramerOptions) {
    this.url = options.url
    this.verify = options.verify
    this.maxRecordBytes = options.maxRecordBytes
    this.streamBytes = options.streamBytes ?? Number.POSITIVE_INFINITY
    this.skip = options.onCorrupt === 'skip'
    this.onSkip = options.onSkip
  }

  /** Stream offset up to which bytes have been pushed. */
  get bytesPushed(): number {
    return this.position
  }

  /** True when the bytes pushed so far end exactly on a record boundary. */
  get atBoundary(): boolean {
    return this.state === State.Header && this.headerFill === 0
  }

  /** Starts the stream at `offset` (a record boundary), for reads of a byte range. */
  seek(offset: number): void {
    if (!this.atBoundary || this.position !== 0) throw new Error('seek only before the first push')
    this.position = offset
  }

  /** Frames `chunk`, appending complete records to `sink`. Throws on corruption unless skipping. */
  push(chunk: Uint8Array, sink: RecordSink): void {
    const base = this.position
    this.position += chunk.length
    this.consume(chunk, base, sink)
  }

  /** Declares the end of the stream: an unfinished record is a truncation. */
  end(): void {
    if (this.state === State.Resync) {
      this.carry = undefined
      this.state = State.Header
      return
    }
    if (this.state === State.Header && this.headerFill === 0) return
    const offset = this.state === State.Body ? this.recordOffset : this.position - this.headerFill
    const have = this.state === State.Body ? HEADER + this.bodyFill : this.headerFill
    const want = this.state === State.Body ? HEADER + this.recordLength + 4 : HEADER
    this.state = State.Header
    this.headerFill = 0
    this.body = undefined
    this.fail(offset, 'truncated', `stream ends after ${have} of the record's ${want} bytes`)
  }

  private consume(chunk: Uint8Array, base: number, sink: RecordSink): void {
    let pos = 0
    const end = chunk.length
    while (pos < end) {
      if (this.state === State.Header) {
        if (this.headerFill === 0) {
          pos = this.fast(chunk, pos, base, sink)
          if (pos < 0) return // went into resync over the rest of this chunk
          if (pos >= end) return
          // fewer than 12 bytes left, or a record that runs past this chunk (state is Body)
          if (this.state !== State.Header) continue
        }
        const n = Math.min(HEADER - this.headerFill, end - pos)
        this.header.set(chunk.subarray(pos, pos + n), this.headerFill)
        this.headerFill += n
        pos += n
        if (this.headerFill < HEADER) return
        const offset = base + pos - HEADER
        this.headerFill = 0
        const length = this.checkHeader(this.header, 0, offset)
        if (length < 0) {
          // damaged length: rescan from the byte after this record's start
          const rest = chunk.subarray(pos)
          const window = new Uint8Array(HEADER - 1 + rest.length)
          window.set(this.header.subarray(1), 0)
          window.set(rest, HEADER - 1)
          this.resync(window, offset + 1, sink)
          return
        }
        this.startBody(length, offset)
      } else if (this.state === State.Body) {
        const body = this.body!
        const n = Math.min(body.length - this.bodyFill, end - pos)
        body.set(chunk.subarray(pos, pos + n), this.bodyFill)
        this.bodyFill += n
        pos += n
        if (this.bodyFill === body.length) {
          this.state = State.Header
          this.body = undefined
          const length = this.recordLength
          const data = body.subarray(0, length)
          if (this.checkData(data, body, length, this.recordOffset)) {
            sink.records.push(data)
            sink.offsets.push(this.recordOffset)
          }
        }
      } else {
        if (this.dropAll) return
        const carry = this.carry!
        const window = new Uint8Array(carry.length + end - pos)
        window.set(carry, 0)
        window.set(chunk.subarray(pos), carry.length)
        this.carry = undefined
        this.state = State.Header
        this.resync(window, this.carryOffset, sink)
        return
      }
    }
  }

  /**
   * The hot loop: whole records inside `chunk`, as views. Returns the position where it stopped
   * (end of chunk, a partial header, or after starting a spanning body), or -1 after handing
   * the rest of the chunk to resync.
   */
  private fast(chunk: Uint8Array, pos: number, base: number, sink: RecordSink): number {
    const end = chunk.length
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const verify = this.verify
    const records = sink.records
    const offsets = sink.offsets
    while (end - pos >= HEADER) {
      let length = view.getUint32(pos, true)
      let ok = view.getUint32(pos + 4, true) === 0 && length <= this.maxRecordBytes &&
        base + pos + FRAME_OVERHEAD + length <= this.streamBytes
      if (ok && verify) ok = maskCrc(crc32c(chunk.subarray(pos, pos + 8))) === view.getUint32(pos + 8, true)
      if (!ok) {
        // the slow path names the failed check (and throws unless skipping)
        length = this.checkHeader(chunk, pos, base + pos)
        if (length < 0) {
          this.resync(chunk.subarray(pos + 1), base + pos + 1, sink)
          return -1
        }
      }
      const dataStart = pos + HEADER
      const dataEnd = dataStart + length
      if (dataEnd + 4 > end) {
        this.startBody(length, base + pos)
        const body = this.body!
        body.set(chunk.subarray(dataStart, end), 0)
        this.bodyFill = end - dataStart
        return end
      }
      const data = chunk.subarray(dataStart, dataEnd)
      if (verify) {
        const stored = view.getUint32(dataEnd, true)
        if (maskCrc(crc32c(data)) !== stored) {
          this.fail(base + pos, 'data-crc', `stored ${hex(stored)}, computed ${hex(maskCrc(crc32c(data)))}`)
          pos = dataEnd + 4
          continue
        }
      }
      records.push(data)
      offsets.push(base + pos)
      pos = dataEnd + 4
    }
    return pos
  }

  /** Validates a 12-byte header at `bytes[at]`; returns the data length, or -1 after a skipped failure. */
  private checkHeader(bytes: Uint8Array, at: number, offset: number): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER)
    const lo = view.getUint32(0, true)
    const hi = view.getUint32(4, true)
    if (this.verify) {
      const stored = view.getUint32(8, true)
      const computed = maskCrc(crc32c(bytes.subarray(at, at + 8)))
      if (stored !== computed) {
        this.fail(offset, 'length-crc', `stored ${hex(stored)}, computed ${hex(computed)}`)
        return -1
      }
    }
    const length = hi * 2 ** 32 + lo
    if (length > this.maxRecordBytes) {
      this.fail(offset, 'length-limit', `length ${length} exceeds maxRecordBytes ${this.maxRecordBytes}`)
      return -1
    }
    if (offset + FRAME_OVERHEAD + length > this.streamBytes) {
      this.fail(offset, 'truncated', `record of ${length} bytes runs past the end of the ${this.streamBytes}-byte object`)
      // nothing after a truncated record can be framed
      this.resyncDisabled = true
      return -1
    }
    return length
  }


  private startBody(length: number, offset: number): void {
    this.state = State.Body
    this.recordLength = length
    this.recordOffset = offset
    this.body = new Uint8Array(length + 4)
    this.bodyFill = 0
  }

  private checkData(data: Uint8Array, body: Uint8Array, length: number, offset: number): boolean {
    if (!this.verify) return true
    const stored = new DataView(body.buffer, body.byteOffset + length, 4).getUint32(0, true)
    const computed = maskCrc(crc32c(data))
    if (stored === computed) return true
    this.fail(offset, 'data-crc', `stored ${hex(stored)}, computed ${hex(computed)}`)
    return false
  }

  /**
   * Scans `window` (stream bytes from `offset`) for the next plausible header: a length whose
   * masked CRC matches and that fits the limits. Frames from there; carries a short tail over.
   */
  private resync(window: Uint8Array, offset: number, sink: RecordSink): void {
    if (this.resyncDisabled) {
      // drop everything to the end of the stream
      this.state = State.Resync
      this.carry = new Uint8Array(0)
      this.carryOffset = offset + window.length
      this.dropAll = true
      return
    }
    const view = new DataView(window.buffer, window.byteOffset, window.byteLength)
    const last = window.length - HEADER
    for (let i = 0; i <= last; i++) {
      const hi = view.getUint32(i + 4, true)
      if (hi !== 0) continue
      const lo = view.getUint32(i, true)
      if (lo > this.maxRecordBytes || offset + i + FRAME_OVERHEAD + lo > this.streamBytes) continue
      if (maskCrc(crc32c(window.subarray(i, i + 8))) !== view.getUint32(i + 8, true)) continue
      this.consume(window.subarray(i), offset + i, sink)
      return
    }
    const keep = Math.max(0, last + 1)
    this.state = State.Resync
    this.carry = window.slice(keep)
    this.carryOffset = offset + keep
  }


  /** Reports damage at `offset`: throws, or counts it in skip mode. */
  fail(offset: number, check: TFRecordCheck, detail: string): void {
    const error = new TFRecordCorruptionError(this.url, offset, check, detail)
    if (!this.skip) throw error
    this.corrupt++
    this.onSkip?.(error)
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0')
}
