/**
 * ObjectHandle: one open object, pinned to the version it was opened at. It maps byte ranges
 * to blocks, asks its reader for them, and returns either a view of one cached block (a read
 * inside a block costs no copy) or one copy into a fresh or caller-supplied buffer.
 *
 * Each handle watches its own read pattern and asks the reader to prefetch ahead of
 * sequential reads; `chunks()` and `createReadStream()` are sequential by construction and
 * read ahead from the first block.
 */
import { Readable } from 'node:stream'
import { ClosedError } from './errors.js'
import { ReadPattern } from './prefetch/read-pattern.js'
import type { ObjectHandle, ObjectInfo, ReadOptions } from './types.js'

/** An object version as the reader tracks it. */
export interface PinnedObject {
  readonly info: ObjectInfo
  /** Object id: the block-key prefix of this version at this block size. */
  readonly id: Uint8Array
  readonly blockCount: number
}

/** What a handle needs from its reader (implemented by BlockReader). */
export interface BlockProvider {
  readonly blockSize: number
  readonly minReadAheadBytes: number
  readonly maxReadAheadBytes: number
  /** Prefetch is issued in pieces of at least this many bytes. */
  readonly coalesceBytes: number
  /** Blocks first..last inclusive, each exactly its block's length. */
  getBlocks(obj: PinnedObject, first: number, last: number, signal?: AbortSignal): Promise<Uint8Array[]>
  /**
   * `[position, end)` (inside one block) as far as it has arrived, once at least `minBytes` of
   * it have (or all of it): a view of the cached or still-arriving block. Starts the fetch
   * synchronously if the block is in no tier.
   */
  readArriving(obj: PinnedObject, position: number, end: number, minBytes: number, signal?: AbortSignal): Promise<Uint8Array>
  /**
   * Copies `[position, end)` into target if every block is cached (in memory, or on disk too
   * when `fromDisk`); false (maybe partly copied) otherwise. Synchronous.
   */
  copyCached(obj: PinnedObject, position: number, end: number, target: Uint8Array, offset: number, fromDisk: boolean): boolean
  /** Pages in disk-tier blocks first..last off the event loop; false if some block is in no tier. */
  pageIn(obj: PinnedObject, first: number, last: number): Promise<boolean>
  /** Registers a read that close() must wait for. */
  track<T>(work: Promise<T>): Promise<T>
  /** Starts bounded background fetches for `[start, end)`; returns how far they reach. */
  prefetchRange(obj: PinnedObject, start: number, end: number): number
  /** Blocks first..end-1 were read past by a sequential reader: evict them before others. */
  passBlocks(obj: PinnedObject, first: number, end: number): void
  release(handle: BlockObjectHandle): void
}

export class BlockObjectHandle implements ObjectHandle {
  private readonly pattern: ReadPattern
  private closed = false
  /** End of the range already handed to prefetch, so a sequential reader checks only new blocks. */
  private readAheadEnd = 0
  /** Blocks before this index have been reported as read past (drop-behind). */
  private passedBlocks = 0
  /** The block `chunks()` last judged read-ahead for (its later pieces are not new reads). */
  private chunkBlock = -1

  constructor(
    private readonly provider: BlockProvider,
    private readonly obj: PinnedObject,
  ) {
    this.pattern = new ReadPattern(provider.minReadAheadBytes, provider.maxReadAheadBytes)
  }

  get info(): ObjectInfo {
    return this.obj.info
  }
  get url(): string {
    return this.obj.info.url
  }
  get size(): number {
    return this.obj.info.size
  }
  get version(): string {
    return this.obj.info.version
  }

  read(position: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    return this.provider.track(this.readBlocks(position, length, options))
  }

  readInto(target: Uint8Array, offset: number, position: number, length: number, options: ReadOptions = {}): Promise<number> {
    return this.provider.track(this.readBlocksInto(target, offset, position, length, options))
  }

  private async readBlocks(position: number, length: number, options: ReadOptions): Promise<Uint8Array> {
    const end = this.checkRange(position, length)
    if (end <= position) return new Uint8Array(0)
    const bs = this.provider.blockSize
    const first = Math.floor(position / bs)
    const last = Math.floor((end - 1) / bs)
    if (first === last) {
      // Inside one block: served as soon as these bytes have arrived, not the whole block.
      const pending = this.provider.readArriving(this.obj, position, end, end - position, options.signal)
      this.readAhead(position, end - position)
      return pending
    }
    const pending = this.provider.getBlocks(this.obj, first, last, options.signal)
    // Read ahead while the demand fetch is in flight, not after it lands.
    this.readAhead(position, end - position)
    const blocks = await pending
    const out = Buffer.allocUnsafe(end - position)
    copyBlocks(blocks, first * bs, position, end, out, 0)
    return out
  }

  private async readBlocksInto(target: Uint8Array, offset: number, position: number, length: number, options: ReadOptions): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > target.length) {
      throw new RangeError(`readInto: offset ${offset} is outside the target buffer (length ${target.length})`)
    }
    const end = Math.min(this.checkRange(position, length), position + (target.length - offset))
    if (end <= position) return 0
    // Warm paths: every block cached, copied straight into the caller's buffer; disk-tier
    // blocks are paged in off the event loop first.
    const bs = this.provider.blockSize
    const first = Math.floor(position / bs)
    const last = Math.floor((end - 1) / bs)
    if (
      this.provider.copyCached(this.obj, position, end, target, offset, false) ||
      ((await this.provider.pageIn(this.obj, first, last)) && this.provider.copyCached(this.obj, position, end, target, offset, true))
    ) {
      this.readAhead(position, end - position)
      return end - position
    }
    const pending = this.provider.getBlocks(this.obj, first, last, options.signal)
    this.readAhead(position, end - position)
    const blocks = await pending
    copyBlocks(blocks, first * bs, position, end, target, offset)
    return end - position
  }

  async *chunks(options: { start?: number; end?: number; signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const bs = this.provider.blockSize
    let position = options.start ?? 0
    const end = Math.min(options.end ?? this.size, this.size)
    this.pattern.assumeSequential(position)
    // Drop-behind covers what this run reads, not the blocks before where it starts.
    this.passedBlocks = Math.floor(position / bs)
    while (position < end) {
      const chunk = await this.provider.track(this.nextChunk(position, end, options.signal))
      position += chunk.length
      yield chunk
    }
  }

  /**
   * The next chunk of `chunks()`: the rest of the block at `position`, or, while that block is
   * still arriving, what has arrived (at least STREAM_PIECE_BYTES), so a consumer starts on a
   * cold object after one round trip and a few kilobytes, not after a whole block.
   */
  private nextChunk(position: number, end: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    this.checkRange(position, end - position)
    const bs = this.provider.blockSize
    const block = Math.floor(position / bs)
    const blockEnd = Math.min(end, (block + 1) * bs)
    const pending = this.provider.readArriving(this.obj, position, blockEnd, STREAM_PIECE_BYTES, signal)
    if (block !== this.chunkBlock) {
      this.chunkBlock = block
      this.readAhead(position, blockEnd - position)
    }
    return pending
  }

  /** A Node Readable over `chunks()`. */
  createReadStream(options: { start?: number; end?: number } = {}): Readable {
    return Readable.from(this.chunks(options), { objectMode: false })
  }

  prefetch(position: number, length: number): number {
    const start = Math.max(0, position)
    if (this.closed || length <= 0) return start
    return this.provider.prefetchRange(this.obj, start, Math.min(this.size, position + length))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.provider.release(this)
  }

  /** Validates a range request and returns its end, clamped to the object's size. */
  private checkRange(position: number, length: number): number {
    if (this.closed) throw new ClosedError(`handle for ${this.url}`)
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`read: position must be a non-negative integer, got ${position}`)
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`read: length must be a non-negative integer, got ${length}`)
    return Math.min(this.size, position + length)
  }

  private readAhead(position: number, length: number): void {
    const window = this.pattern.observe(position, length)
    const end = position + length
    const block = Math.floor(position / this.provider.blockSize)
    if (window === 0) {
      this.readAheadEnd = 0
      this.passedBlocks = block
      return
    }
    if (block > this.passedBlocks) {
      this.provider.passBlocks(this.obj, this.passedBlocks, block)
      this.passedBlocks = block
    }
    const until = Math.min(this.size, end + window)
    // Offer only what lies beyond what was offered before, and only in pieces worth one
    // coalesced GET (or the object's tail): a window sliding one block per read would
    // otherwise turn into a stream of single-block requests.
    const from = Math.max(end, this.readAheadEnd)
    if (until - from >= Math.min(window / 2, this.provider.coalesceBytes) || (until === this.size && until > from)) {
      // Only as far as the budget allowed; the rest is offered again on a later read.
      this.readAheadEnd = this.provider.prefetchRange(this.obj, from, until)
    }
  }
}

/** Smallest piece of a still-arriving block that `chunks()` yields. */
const STREAM_PIECE_BYTES = 256 * 1024

/** Copies `[start, end)` of the object, held in consecutive blocks from `base`, into target. */
function copyBlocks(blocks: Uint8Array[], base: number, start: number, end: number, target: Uint8Array, offset: number): void {
  let blockStart = base
  let out = offset
  for (const block of blocks) {
    const from = Math.max(start, blockStart)
    const to = Math.min(end, blockStart + block.length)
    if (to > from) {
      target.set(block.subarray(from - blockStart, to - blockStart), out)
      out += to - from
    }
    blockStart += block.length
  }
}
