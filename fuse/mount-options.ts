/**
 * The libfuse 2 mount options, and why each is set.
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

export function libfuseOptions(input: LibfuseOptionInput): string[] {
  const kernelTimeoutS = Math.min(input.metadataTtlMs / 1000, 1)
  const seconds = String(Number(kernelTimeoutS.toFixed(3)))
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

/** The prefix made safe for an option value (no commas, spaces or backslashes; bounded). */
function fsnameFor(prefix: string): string {
  return ('sluice:' + prefix).replace(/[,\s\\=]/g, '_').slice(0, 200)
}
