/**
 * Block-aligned read windows per open file, so that the kernel's small FUSE reads (at most
 * 128 KiB each with libfuse 2) cost one memory copy each instead of one trip through the
 * block cache each.
 *
 * A window is exactly one cache block, fetched with `handle.read`, which returns a view of
 * the verified block (zero copy on a memory-tier hit, one verified read on a disk-tier hit).
 * Without windows, every 128 KiB read of a disk-tier block would re-read and re-verify the
 * whole 4 MiB block: 32 checksums of the same bytes. Each open file keeps its two most recent
 * windows (the kernel's read-ahead straddles block boundaries), concurrent reads of one
 * window share one fetch, and all windows together are bounded by `maxWindows`, evicting the
 * least recently used.
 */
import type { ObjectHandle } from '../lib/index.js'

interface Window {
  fd: number
  index: number
  bytes: Promise<Uint8Array>
}

const PER_FILE = 2

export class ReadWindows {
  readonly windowBytes: number
  private readonly maxWindows: number
  /** Insertion order is recency order: re-inserted on every use. */
  private readonly lru = new Map<string, Window>()

  constructor(windowBytes: number, maxWindows: number) {
    this.windowBytes = windowBytes
    this.maxWindows = Math.max(PER_FILE, maxWindows)
  }

  /** Copies `[position, position + length)` of the file into `target`; resolves to bytes copied. */
  async readInto(fd: number, handle: ObjectHandle, target: Uint8Array, position: number, length: number): Promise<number> {
    const end = Math.min(position + length, handle.size)
    let copied = 0
    for (let pos = position; pos < end; ) {
      const index = Math.floor(pos / this.windowBytes)
      const start = index * this.windowBytes
      const bytes = await this.window(fd, handle, index)
      const to = Math.min(end, start + bytes.length)
      if (to <= pos) break // short object: nothing more to copy
      target.set(bytes.subarray(pos - start, to - start), copied)
      copied += to - pos
      pos = to
    }
    return copied
  }

  /** Forgets a file's windows (on release). */
  drop(fd: number): void {
    for (const [key, w] of this.lru) if (w.fd === fd) this.lru.delete(key)
  }

  private window(fd: number, handle: ObjectHandle, index: number): Promise<Uint8Array> {
    const key = `${fd}:${index}`
    const hit = this.lru.get(key)
    if (hit !== undefined) {
      this.lru.delete(key)
      this.lru.set(key, hit)
      return hit.bytes
    }
    const start = index * this.windowBytes
    const bytes = handle.read(start, Math.min(this.windowBytes, handle.size - start))
    const w: Window = { fd, index, bytes }
    this.lru.set(key, w)
    // A failed fetch must not stay cached: the next read tries again (and reports its own error).
    bytes.catch(() => {
      if (this.lru.get(key) === w) this.lru.delete(key)
    })
    this.evict(fd)
    return bytes
  }

  private evict(fd: number): void {
    let mine = 0
    for (const w of this.lru.values()) if (w.fd === fd) mine++
    for (const [key, w] of this.lru) {
      if (mine <= PER_FILE) break
      if (w.fd === fd) {
        this.lru.delete(key)
        mine--
      }
    }
    while (this.lru.size > this.maxWindows) this.lru.delete(this.lru.keys().next().value!)
  }
}
