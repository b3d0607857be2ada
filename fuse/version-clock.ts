/**
 * The modification times the mount reports, chosen so the kernel page cache is dropped exactly
 * when an object's version changes.
 *
 * The mount uses libfuse's `auto_cache`: at every open libfuse compares the file's mtime and
 * size with what it saw last time and keeps the kernel's cached pages only if both are equal.
 * Object stores give whole-second mtimes, so a rewrite within the same second with the same
 * size would look unchanged. We therefore report the object's second plus a millisecond part
 * derived from the version (S3 listing times carry no sub-second digits, so nothing real is
 * lost), and if a new version of a path would still report the same time as the previous one,
 * we move it by a millisecond. Within one mount, a changed version always reports a changed
 * mtime, so stale pages are never served.
 */
import type { ObjectInfo } from '../lib/index.js'

export class VersionClock {
  private readonly seen = new Map<string, { version: string; mtimeMs: number }>()
  private readonly fallbackMs: number

  /** `fallbackMs`: the time reported for objects whose source has no mtime (mount time). */
  constructor(fallbackMs = Date.now()) {
    this.fallbackMs = fallbackMs
  }

  mtimeFor(path: string, info: ObjectInfo): number {
    const previous = this.seen.get(path)
    if (previous !== undefined && previous.version === info.version) return previous.mtimeMs
    const base = Math.floor((info.mtimeMs ?? this.fallbackMs) / 1000) * 1000
    let mtimeMs = base + (hash32(info.version) % 1000)
    if (previous !== undefined && previous.mtimeMs === mtimeMs) mtimeMs += 1
    this.seen.set(path, { version: info.version, mtimeMs })
    return mtimeMs
  }
}

/** FNV-1a over the version string; only needs to spread versions, not resist anyone. */
function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
