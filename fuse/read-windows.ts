/**
 * Block-aligned read windows per open file, so that the kernel's small FUSE reads (at most
 * 128 KiB each with libfuse 2) cost one memory copy each instead of one trip through the
 * block cache each.
 *
 * A window is exactly one cache block, fetched with `handle.read`, which returns a view of
 * the verified block (zero copy on a memory-tier hit, one verified read on a disk-tier hit).
 * Without windows, every 128 KiB read of a disk-tier block would re-read and re-verify the
 * whole 4 MiB block: 32 checksums of the same bytes. Measured against serving each FUSE read
 * with the core's `handle.readInto` directly (`node dist/bench/fuse.js`, 4 MiB blocks, 2 CPUs,
 * two runs each): the disk tier fell from 520-560 to 143 MiB/s (670 us of main thread per
 * 128 KiB request instead of 120); the memory tier was equal within noise.
 *
 * - Once a window's bytes are there, reads of it are answered at once (`leaseReady`): no
 *   fetch, no await, no allocation but a subarray, so a warm read costs the copy into the
 *   kernel's buffer and little else.
 * - Reads are leases: views of the windows' bytes, which the binding may reply from
 *   without copying (the libfuse 3 addon writes them on a thread of its own), released when
 *   the reply is written.
 * - Without a memory tier (`pooled`), a window's bytes come from `handle.readInto` into a
 *   block-sized buffer from a pool, reused once the window is evicted and no lease or fetch
 *   uses it: a disk-tier hit read with `handle.read` would allocate a fresh 4 MiB buffer per
 *   block. With a memory tier, `handle.read`'s view of the memory block is the window (zero
 *   copy), and a disk hit's buffer is the one the memory tier keeps.
 * - A sequential reader that is past the middle of window i has window i + 1 fetched ahead,
 *   so the kernel's read-ahead does not stall on a disk-tier block at every block boundary.
 * - The first window of a file and the windows fetched ahead are streamed (`handle.chunks`):
 *   a read is answered as soon as its bytes have arrived, not when the whole block has, and
 *   the handle reads ahead as for any sequential stream, its full window from the start. A
 *   cold mount behind the remote-store model read 132 MiB/s with whole-block windows, 156
 *   with streamed ones, against 176 for an in-process `chunks()` loop.
 * - Each open file keeps its three most recent windows (the previous one, because the kernel's
 *   read-ahead straddles block boundaries, the current and the next), concurrent reads of one
 *   window share one fetch, and all windows together are bounded by `maxWindows`, evicting
 *   the least recently used.
 */
import type { ObjectHandle } from '../lib/index.js'

/** Views of a read's bytes, in order; `release` once they are no longer read (idempotent). */
export interface ReadLease {
  readonly views: Uint8Array[]
  release(): void
}

const EMPTY: ReadLease = { views: [], release() {} }

interface Window {
  readonly index: number
  bytes: Promise<Uint8Array>
  /** The fetched bytes, once there: reads of the window are then answered synchronously. */
  ready: Uint8Array | undefined
  /** Recency tick of the last use. */
  used: number
  /** Pooled mode: the buffer read into, back to the pool once retired and unpinned. */
  readonly buffer: Buffer | undefined
  /** Leases and the fetch in flight that use the buffer. */
  pins: number
  /** Evicted (or its file released): no new leases. */
  retired: boolean
  /** A streamed fetch: the consecutive pieces arrived so far, and how many bytes they hold. */
  pieces: Uint8Array[]
  arrived: number
  /** Reads waiting for the window to have arrived up to `until` (an offset in the file). */
  waiting: { until: number; wake: () => void }[]
}

interface FileWindows {
  windows: Window[]
  /** Where the furthest read of the current sequential run ended. */
  lastEnd: number
}

const PER_FILE = 3

export class ReadWindows {
  readonly windowBytes: number
  private readonly maxWindows: number
  private readonly pooled: boolean
  private readonly pool: Buffer[] = []
  private readonly files = new Map<number, FileWindows>()
  private count = 0
  private tick = 0

  /** `pooled`: read windows into pooled buffers (readers without a memory tier). */
  constructor(windowBytes: number, maxWindows: number, pooled = false) {
    this.windowBytes = windowBytes
    this.maxWindows = Math.max(PER_FILE, maxWindows)
    this.pooled = pooled
  }

  /**
   * A lease on `[position, position + length)` of the file if every window it touches is
   * already fetched; otherwise starts the missing fetches and returns undefined (then call
   * `lease`). Never throws for a fetch failure.
   */
  leaseReady(fd: number, handle: ObjectHandle, position: number, length: number): ReadLease | undefined {
    const end = Math.min(position + length, handle.size)
    if (end <= position) return EMPTY
    const file = this.fileOf(fd)
    const ws = this.windowBytes
    const first = Math.floor(position / ws)
    const last = Math.floor((end - 1) / ws)
    this.readAhead(file, fd, handle, position, end)
    // Fast path: one window, already there (every read but one or two per block).
    if (first === last) {
      const w = this.window(file, fd, handle, first)
      return covers(w, end, ws) ? this.leaseOf([w], position, end) : undefined
    }
    const windows = this.collect(file, fd, handle, first, last)
    const lease = windows.every((w) => covers(w, end, ws)) ? this.leaseOf(windows, position, end) : undefined
    for (const w of windows) this.unpin(w)
    return lease
  }

  /** A lease on `[position, position + length)` of the file, once its windows are fetched. */
  async lease(fd: number, handle: ObjectHandle, position: number, length: number): Promise<ReadLease> {
    const end = Math.min(position + length, handle.size)
    if (end <= position) return EMPTY
    const file = this.fileOf(fd)
    const ws = this.windowBytes
    const first = Math.floor(position / ws)
    const last = Math.floor((end - 1) / ws)
    this.readAhead(file, fd, handle, position, end)
    // Pinned while waiting: an eviction meanwhile must not hand the buffer to another fetch.
    const windows = this.collect(file, fd, handle, first, last)
    try {
      for (const w of windows) await this.arrival(w, end)
      return this.leaseOf(windows, position, end)
    } finally {
      for (const w of windows) this.unpin(w)
    }
  }

  /** Like leaseReady, copied into `target`: the bytes copied, or -1 when a window is not there yet. */
  copyReady(fd: number, handle: ObjectHandle, target: Uint8Array, position: number, length: number): number {
    const lease = this.leaseReady(fd, handle, position, length)
    return lease === undefined ? -1 : copyOut(lease, target)
  }

  /** Copies `[position, position + length)` of the file into `target`; resolves to bytes copied. */
  async readInto(fd: number, handle: ObjectHandle, target: Uint8Array, position: number, length: number): Promise<number> {
    return copyOut(await this.lease(fd, handle, position, length), target)
  }

  /** Forgets a file's windows (on release). */
  drop(fd: number): void {
    const file = this.files.get(fd)
    if (file === undefined) return
    this.count -= file.windows.length
    for (const w of file.windows) this.retire(w)
    this.files.delete(fd)
  }

  /** Forgets every file's windows (on unmount). */
  clear(): void {
    for (const file of this.files.values()) for (const w of file.windows) this.retire(w)
    this.files.clear()
    this.count = 0
  }

  /** Buffers waiting in the pool (for tests). */
  get pooledBuffers(): number {
    return this.pool.length
  }

  /**
   * Windows `first..last`, each pinned as soon as it is had: fetching a later one may evict
   * an earlier one, whose buffer must not go back to the pool under this read. Unpin them.
   */
  private collect(file: FileWindows, fd: number, handle: ObjectHandle, first: number, last: number): Window[] {
    const windows: Window[] = []
    for (let i = first; i <= last; i++) {
      const w = this.window(file, fd, handle, i)
      w.pins++
      windows.push(w)
    }
    return windows
  }

  /** Resolves once `w` holds the file's bytes up to `end` (or all of it); rejects if its fetch fails. */
  private arrival(w: Window, end: number): Promise<unknown> {
    if (w.ready !== undefined || covers(w, end, this.windowBytes)) return Promise.resolve()
    const until = Math.min(end, (w.index + 1) * this.windowBytes)
    const arrived = new Promise<void>((wake) => w.waiting.push({ until, wake }))
    return Promise.race([arrived, w.bytes])
  }

  /** Pins the windows' buffers and returns views of `[start, end)` of them. */
  private leaseOf(windows: Window[], start: number, end: number): ReadLease {
    const ws = this.windowBytes
    const views = slices(windows.map((w) => ({ at: w.index * ws, bytes: w.ready !== undefined ? [w.ready] : w.pieces })), start, end)
    for (const w of windows) w.pins++
    let released = false
    return {
      views,
      release: () => {
        if (released) return
        released = true
        for (const w of windows) this.unpin(w)
      },
    }
  }

  private unpin(w: Window): void {
    if (--w.pins === 0 && w.retired) this.recycle(w)
  }

  /** The window leaves its file: its buffer goes back to the pool once nothing uses it. */
  private retire(w: Window): void {
    w.retired = true
    if (w.pins === 0) this.recycle(w)
  }

  private recycle(w: Window): void {
    if (w.buffer !== undefined && this.pool.length < this.maxWindows && !this.pool.includes(w.buffer)) this.pool.push(w.buffer)
  }

  /** How many windows are held (for tests). */
  get size(): number {
    return this.count
  }

  private fileOf(fd: number): FileWindows {
    let file = this.files.get(fd)
    if (file === undefined) {
      file = { windows: [], lastEnd: 0 }
      this.files.set(fd, file)
    }
    return file
  }

  /**
   * A sequential reader past the middle of its window gets the next window fetched ahead.
   * The kernel's read-ahead requests reach JavaScript in no fixed order (one libfuse thread
   * each), so "sequential" means within half a window of where the furthest read ended.
   */
  private readAhead(file: FileWindows, fd: number, handle: ObjectHandle, position: number, end: number): void {
    const ws = this.windowBytes
    const sequential = Math.abs(position - file.lastEnd) <= ws / 2
    file.lastEnd = sequential ? Math.max(file.lastEnd, end) : end
    if (!sequential) return
    const index = Math.floor((end - 1) / ws)
    if ((end - 1) % ws < ws / 2 || (index + 1) * ws >= handle.size) return
    if (find(file, index + 1) === undefined) this.fetch(file, fd, handle, index + 1, index, true)
  }

  /** The window, fetched or being fetched; starts the fetch if it has neither. */
  private window(file: FileWindows, fd: number, handle: ObjectHandle, index: number): Window {
    const hit = find(file, index)
    if (hit !== undefined) {
      hit.used = ++this.tick
      return hit
    }
    // A read of a file's first window is how sequential readers start: streamed too.
    return this.fetch(file, fd, handle, index, index, index === 0)
  }

  /**
   * Starts fetching window `index`, making room first without evicting window `keep`;
   * `streamed` (for sequential readers) reads it with `chunks`, unless windows are pooled.
   */
  private fetch(file: FileWindows, fd: number, handle: ObjectHandle, index: number, keep: number, streamed = false): Window {
    while (file.windows.length >= PER_FILE) this.evictFrom(file, keep)
    while (this.count >= this.maxWindows && this.evictOldest()) {}
    const start = index * this.windowBytes
    const length = Math.min(this.windowBytes, handle.size - start)
    const buffer = this.pooled ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(this.windowBytes)) : undefined
    // The fetch pins the buffer until it settles: a retired window's buffer may still be written to.
    const w: Window = { index, bytes: Promise.resolve(EMPTY_BYTES), ready: undefined, used: ++this.tick, buffer, pins: 1, retired: false, pieces: [], arrived: 0, waiting: [] }
    w.bytes = buffer !== undefined
      ? handle.readInto(buffer, 0, start, length).then((n) => buffer.subarray(0, n))
      : streamed ? stream(w, handle, start, length) : handle.read(start, length)
    const bytes = w.bytes
    file.windows.push(w)
    this.count++
    bytes.then(
      (b) => {
        w.ready = b
        w.pieces = []
        this.unpin(w)
      },
      // A failed fetch must not stay cached: the next read tries again (and reports its own error).
      () => {
        const at = file.windows.indexOf(w)
        if (at >= 0 && this.files.get(fd) === file) {
          file.windows.splice(at, 1)
          this.count--
        }
        w.retired = true
        this.unpin(w)
      },
    )
    return w
  }

  /** Evicts the file's least recently used window other than `keep`. */
  private evictFrom(file: FileWindows, keep: number): void {
    let victim = -1
    for (let i = 0; i < file.windows.length; i++) {
      const w = file.windows[i]!
      if (w.index === keep) continue
      if (victim < 0 || w.used < file.windows[victim]!.used) victim = i
    }
    const [evicted] = file.windows.splice(victim < 0 ? 0 : victim, 1)
    this.count--
    if (evicted !== undefined) this.retire(evicted)
  }

  /** Evicts the least recently used window of all files; false if there is none. */
  private evictOldest(): boolean {
    let oldest: { file: FileWindows; at: number; used: number } | undefined
    for (const file of this.files.values()) {
      for (let i = 0; i < file.windows.length; i++) {
        const used = file.windows[i]!.used
        if (oldest === undefined || used < oldest.used) oldest = { file, at: i, used }
      }
    }
    if (oldest === undefined) return false
    const [evicted] = oldest.file.windows.splice(oldest.at, 1)
    this.count--
    if (evicted !== undefined) this.retire(evicted)
    return true
  }
}

const EMPTY_BYTES = new Uint8Array(0)

/** Whether `w` holds the file's bytes up to `end` (or all of its own). */
function covers(w: Window, end: number, windowBytes: number): boolean {
  return w.ready !== undefined || w.index * windowBytes + w.arrived >= Math.min(end, (w.index + 1) * windowBytes)
}

/**
 * Reads a window with `chunks`, keeping the pieces as they arrive and waking the reads they
 * satisfy; resolves to the whole window (one view when the pieces are one block's memory).
 */
async function stream(w: Window, handle: ObjectHandle, start: number, length: number): Promise<Uint8Array> {
  for await (const piece of handle.chunks({ start, end: start + length })) {
    w.pieces.push(piece)
    w.arrived += piece.length
    const reached = start + w.arrived
    w.waiting = w.waiting.filter((r) => (r.until <= reached ? (r.wake(), false) : true))
  }
  return joined(w.pieces)
}

/** Consecutive pieces as one view: without a copy when they are adjacent in one buffer. */
function joined(pieces: Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!
  const first = pieces[0]
  let offset = first?.byteOffset ?? 0
  for (const p of pieces) {
    if (p.buffer !== first!.buffer || p.byteOffset !== offset) return Buffer.concat(pieces)
    offset += p.length
  }
  return first === undefined ? EMPTY_BYTES : new Uint8Array(first.buffer, first.byteOffset, offset - first.byteOffset)
}

/**
 * The parts of the windows' bytes (each window's consecutive pieces, from `at` in the file)
 * that cover `[start, end)`, in order.
 */
function slices(windows: { at: number; bytes: Uint8Array[] }[], start: number, end: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const { at, bytes } of windows) {
    let pieceStart = at
    for (const piece of bytes) {
      const from = Math.max(start, pieceStart)
      const to = Math.min(end, pieceStart + piece.length)
      if (to > from) out.push(from === pieceStart && to === pieceStart + piece.length ? piece : piece.subarray(from - pieceStart, to - pieceStart))
      pieceStart += piece.length
      if (pieceStart >= end) return out
    }
  }
  return out
}

/** Copies a lease's bytes into `target` and releases it; the bytes copied. */
function copyOut(lease: ReadLease, target: Uint8Array): number {
  let copied = 0
  for (const v of lease.views) {
    target.set(v, copied)
    copied += v.length
  }
  lease.release()
  return copied
}

function find(file: FileWindows, index: number): Window | undefined {
  for (const w of file.windows) if (w.index === index) return w
  return undefined
}
