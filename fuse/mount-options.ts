/**
 * The mount options of both bindings, and why each is set. libfuse 2 (fuse-native) takes
 * them all as `-o` options; libfuse 3's low-level API takes only the mount's own (`ro`,
 * `default_permissions`, `allow_other`, `fsname`, `subtype`, `debug`), and the libfuse 3
 * adapter does the rest itself: it sends the timeouts with each reply and makes the
 * `auto_cache` decision at open (fuse3-adapter.ts).
 *
 * - `ro`: the kernel refuses writes (EROFS) before they reach the daemon.
 * - `auto_cache`: the kernel page cache of a file survives close and reopen as long as its
 *   mtime and size are unchanged, and is dropped at the next open when they change. The mtime
 *   we report moves with the object's version (see version-clock.ts), so a second epoch reads
 *   from the page cache and a rewritten object is never served from stale pages.
 *   `kernel_cache` was rejected: it keeps pages even after the object changed.
 * - `ac_attr_timeout=0`: the auto_cache check asks for fresh attributes at every open. They
 *   come from the in-memory listing, so this costs no request to the store.
 * - `attr_timeout`, `entry_timeout`, `negative_timeout`: how long the kernel reuses a stat or
 *   lookup (including "no such file") without asking; the lesser of the metadata TTL and 1 s,
 *   so the kernel adds at most a second of staleness to the listing's own TTL.
 * - `default_permissions`: the kernel enforces the modes we report (0444 files, 0555 dirs).
 * - `allow_other` only on request: by default only the mounting user sees the files.
 * - `fsname`/`subtype`: `mount` and /proc/self/mountinfo show `fuse.sluice` and the prefix.
 */

export interface LibfuseOptionInput {
  /** How long listings are reused, in ms. */
  metadataTtlMs: number
  allowOther: boolean
  /** The mounted prefix, shown as the file system's source. */
  prefix: string
  /** libfuse's own request log on stderr. */
  debug?: boolean
}

/** How long the kernel may reuse attributes, entries and "no such file", in seconds. */
export function kernelTimeoutSeconds(metadataTtlMs: number): number {
  return Number(Math.min(metadataTtlMs / 1000, 1).toFixed(3))
}

/** libfuse 2's options (fuse-native). */
export function libfuseOptions(input: LibfuseOptionInput): string[] {
  const seconds = String(kernelTimeoutSeconds(input.metadataTtlMs))
  const options = [
    'ro',
    'default_permissions',
    'auto_cache',
    'ac_attr_timeout=0',
    `attr_timeout=${seconds}`,
    `entry_timeout=${seconds}`,
    `negative_timeout=${seconds}`,
    `fsname=${fsnameFor(input.prefix)}`,
    'subtype=sluice',
  ]
  if (input.allowOther) options.push('allow_other')
  if (input.debug) options.push('debug')
  return options
}

/** libfuse 3's options (the low-level session takes only the mount's own). */
export function libfuse3Options(input: LibfuseOptionInput): string[] {
  const options = ['ro', 'default_permissions', `fsname=${fsnameFor(input.prefix)}`, 'subtype=sluice']
  if (input.allowOther) options.push('allow_other')
  if (input.debug) options.push('debug')
  return options
}

/** The prefix made safe for an option value (no commas, spaces or backslashes; bounded). */
function fsnameFor(prefix: string): string {
  return ('sluice:' + prefix).replace(/[,\s\\=]/g, '_').slice(0, 200)
}
