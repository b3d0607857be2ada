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
 * - Once a window's bytes are there, reads of it are copied at once (`copyReady`): no
 *   fetch, no await, no allocation but a subarray, so a warm 128 KiB read costs the copy
 *   into the kernel's buffer and little else.
 * - A sequential reader that is past the middle of window i has window i + 1 fetched ahead,
 *   so the kernel's read-ahead does not stall on a disk-tier block at every block boundary.
 * - Each open file keeps its three most recent windows (the previous one, because the kernel's
 *   read-ahead straddles block boundaries, the current and the next), concurrent reads of one
 *   window share one fetch, and all windows together are bounded by `maxWindows`, evicting
 *   the least recently used.
 */
import type { ObjectHandle } from '../lib/index.js'

interface Window {
  readonly index: number
  readonly bytes: Promise<Uint8Array>
  /** The fetched bytes, once there: reads of the window are then answered synchronously. */
  ready: Uint8Array | undefined
  /** Recency tick of the last use. */
  used: number
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
  private readonly files = new Map<number, FileWindows>()
  private count = 0
  private tick = 0

  constructor(windowBytes: number, maxWindows: number) {
    this.windowBytes = windowBytes
    this.maxWindows = Math.max(PER_FILE, maxWindows)
  }

  /**
   * Views of `[position, position + length)` of the file, in order, if every window it
   * touches is already fetched; otherwise starts the missing fetches and returns undefined
   * (then call `views`). Never throws for a fetch failure. The views are of the windows'
   * bytes (the cache's blocks): a binding replies from them without copying.
   */
  viewsReady(fd: number, handle: ObjectHandle, position: number, length: number): Uint8Array[] | undefined {
    const end = Math.min(position + length, handle.size)
    if (end <= position) return []
    const file = this.fileOf(fd)
    const ws = this.windowBytes
    const first = Math.floor(position / ws)
    const last = Math.floor((end - 1) / ws)
    this.readAhead(file, fd, handle, position, end)
    // Fast path: one window, already there (every read but one or two per block).
    if (first === last) {
      const bytes = this.window(file, fd, handle, first).ready
      return bytes === undefined ? undefined : slices([bytes], first * ws, position, end)
    }
    const ready: Uint8Array[] = []
    for (let i = first; i <= last; i++) {
      const bytes = this.window(file, fd, handle, i).ready
      if (bytes !== undefined) ready.push(bytes)
    }
    return ready.length === last - first + 1 ? slices(ready, first * ws, position, end) : undefined
  }

  /** Views of `[position, position + length)` of the file, in order, once fetched. */
  async views(fd: number, handle: ObjectHandle, position: number, length: number): Promise<Uint8Array[]> {
    const end = Math.min(position + length, handle.size)
    if (end <= position) return []
    const file = this.fileOf(fd)
    const ws = this.windowBytes
    const first = Math.floor(position / ws)
    const last = Math.floor((end - 1) / ws)
    this.readAhead(file, fd, handle, position, end)
    const windows: Window[] = []
    for (let i = first; i <= last; i++) windows.push(this.window(file, fd, handle, i))
    const blocks: Uint8Array[] = []
    for (const w of windows) blocks.push(w.ready ?? (await w.bytes))
    return slices(blocks, first * ws, position, end)
  }

  /** Like viewsReady, copied into `target`: the bytes copied, or -1 when a window is not there yet. */
  copyReady(fd: number, handle: ObjectHandle, target: Uint8Array, position: number, length: number): number {
    const views = this.viewsReady(fd, handle, position, length)
    return views === undefined ? -1 : copyViews(views, target)
  }

  /** Copies `[position, position + length)` of the file into `target`; resolves to bytes copied. */
  async readInto(fd: number, handle: ObjectHandle, target: Uint8Array, position: number, length: number): Promise<number> {
    return copyViews(await this.views(fd, handle, position, length), target)
  }

  /** Forgets a file's windows (on release). */
  drop(fd: number): void {
    const file = this.files.get(fd)
    if (file === undefined) return
    this.count -= file.windows.length
    this.files.delete(fd)
  }

  /** Forgets every file's windows (on unmount). */
  clear(): void {
    this.files.clear()
    this.count = 0
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
    if (find(file, index + 1) === undefined) this.fetch(file, fd, handle, index + 1, index)
  }

  /** The window, fetched or being fetched; starts the fetch if it has neither. */
  private window(file: FileWindows, fd: number, handle: ObjectHandle, index: number): Window {
    const hit = find(file, index)
    if (hit !== undefined) {
      hit.used = ++this.tick
      return hit
    }
    return this.fetch(file, fd, handle, index, index)
  }

  /** Starts fetching window `index`, making room first without evicting window `keep`. */
  private fetch(file: FileWindows, fd: number, handle: ObjectHandle, index: number, keep: number): Window {
    while (file.windows.length >= PER_FILE) this.evictFrom(file, keep)
    while (this.count >= this.maxWindows && this.evictOldest()) {}
    const start = index * this.windowBytes
    const bytes = handle.read(start, Math.min(this.windowBytes, handle.size - start))
    const w: Window = { index, bytes, ready: undefined, used: ++this.tick }
    file.windows.push(w)
    this.count++
    bytes.then(
      (b) => {
        w.ready = b
      },
      // A failed fetch must not stay cached: the next read tries again (and reports its own error).
      () => {
        const at = file.windows.indexOf(w)
        if (at >= 0 && this.files.get(fd) === file) {
          file.windows.splice(at, 1)
          this.count--
        }
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
    file.windows.splice(victim < 0 ? 0 : victim, 1)
    this.count--
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
    oldest.file.windows.splice(oldest.at, 1)
    this.count--
    return true
  }
}

/**
 * The parts of consecutive windows (the first starting at `base`) that cover `[start, end)`.
 * A window shorter than the window size (the object's last) ends the views early.
 */
function slices(blocks: Uint8Array[], base: number, start: number, end: number): Uint8Array[] {
  const out: Uint8Array[] = []
  let blockStart = base
  for (const bytes of blocks) {
    const from = Math.max(start, blockStart)
    const to = Math.min(end, blockStart + bytes.length)
    if (to <= from) break
    out.push(from === blockStart && to === blockStart + bytes.length ? bytes : bytes.subarray(from - blockStart, to - blockStart))
    blockStart += bytes.length
  }
  return out
}

function copyViews(views: Uint8Array[], target: Uint8Array): number {
  let copied = 0
  for (const v of views) {
    target.set(v, copied)
    copied += v.length
  }
  return copied
}

function find(file: FileWindows, index: number): Window | undefined {
  for (const w of file.windows) if (w.index === index) return w
  return undefined
}
