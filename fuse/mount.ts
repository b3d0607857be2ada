/**
 * Mounting an object prefix as a read-only directory: a ReadOnlyFileSystem bound to the
 * kernel through fuse-native (operations.ts), plus the lifecycle around them (check the
 * mountpoint, list before mounting so a bad URL fails here and not on first `ls`, unmount and
 * close open handles).
 *
 * The mount never owns the reader: whoever created the BlockReader closes it, after
 * `unmount()`, which is how the CLI flushes the cache on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { MountReader } from './reader.js'
import { loadFuse, type FuseInstance } from './load-fuse.js'
import { libfuseOptions } from './mount-options.js'
import { checkMountpoint, findMount, isStaleMount, MountError } from './mountpoint.js'
import { setReadAhead } from './read-ahead.js'
import { createOperations } from './operations.js'
import { ReadOnlyFileSystem, type MountStats } from './read-only-fs.js'
import type { SkippedKey } from './tree.js'

export interface MountOptions {
  /** How long a listing of the prefix is reused before the next operation re-lists, in ms. Default 60 000. */
  metadataTtlMs?: number
  /** Let other users (and root) read the mount; needs `user_allow_other` in /etc/fuse.conf for non-root. Default false. */
  allowOther?: boolean
  /** Longest a FUSE operation may take before the kernel gets ETIMEDOUT, in ms. Default 300 000. */
  operationTimeoutMs?: number
  /** libfuse's request log on stderr. Default false. */
  fuseDebug?: boolean
  /** Where the mount's log lines go. Default: stderr, prefixed `sluice: `. */
  log?: (line: string) => void
  /** Kernel read-ahead for the mount, in bytes (0 keeps the kernel's 128 KiB). Default 1 MiB. */
  readAheadBytes?: number
  /** Bound on the block-sized read windows kept for open files, in bytes. Default 256 MiB. */
  maxWindowBytes?: number
  /** How often to check that the mount still exists (to notice `fusermount -u` from elsewhere), in ms. Default 2 000. */
  watchIntervalMs?: number
}

export type { MountStats }

export interface SluiceMount {
  readonly mountpoint: string
  /** The listed prefix, normalised to end with `/`. */
  readonly prefix: string
  /** Keys under the prefix the first listing could not show as files, and why. */
  readonly skipped: readonly SkippedKey[]
  stats(): MountStats
  /** Unmounts and closes the open handles; safe to call more than once. Does not close the reader. */
  unmount(): Promise<void>
  /** Resolves when the mount went away without `unmount()` (someone ran `fusermount -u`). */
  readonly gone: Promise<void>
}

/** `s3://b/train` → `s3://b/train/`; `/data/x` → `file:///data/x/`. */
export function normalizePrefix(url: string): string {
  const absolute = url.startsWith('/') ? pathToFileURL(url).href : url
  return absolute.endsWith('/') ? absolute : absolute + '/'
}

const defaultLog = (line: string) => process.stderr.write(`sluice: ${line}\n`)

/** Mounts the objects under `prefix` read-only at `mountpoint`. */
export async function mount(reader: MountReader, prefix: string, mountpoint: string, options: MountOptions = {}): Promise<SluiceMount> {
  const target = resolve(mountpoint)
  const log = options.log ?? defaultLog
  const metadataTtlMs = options.metadataTtlMs ?? 60_000
  if (!(metadataTtlMs >= 0)) throw new RangeError(`metadataTtlMs must be >= 0, got ${metadataTtlMs}`)
  const normalized = normalizePrefix(prefix)

  await checkMountpoint(target)
  const Fuse = await loadFuse()
  const fs = new ReadOnlyFileSystem(reader, { prefix: normalized, metadataTtlMs, log, maxWindowBytes: options.maxWindowBytes })
  const first = await fs.load()
  const ops = createOperations(fs)
  const optionList = libfuseOptions({ metadataTtlMs, allowOther: options.allowOther ?? false, prefix: normalized, debug: options.fuseDebug })
  // fuse-native only knows a fixed set of options (no `ro`, no `ac_attr_timeout`), so the
  // subclass hands libfuse our list directly.
  class SluiceFuse extends (Fuse as unknown as new (...args: unknown[]) => FuseInstance) {
    override _fuseOptions(): string {
      return '-o' + optionList.join(',')
    }
  }
  // Reads have no per-operation timer: the core already bounds every request to the store
  // (timeouts and retries), and a timer per 128 KiB read is measurable overhead.
  const fuse = new SluiceFuse(target, ops, { timeout: { default: options.operationTimeoutMs ?? 300_000, read: false } })
  await new Promise<void>((done, fail) => {
    fuse.mount((err) => {
      if (err === null || err === undefined) return done()
      fail(new MountError('failed', `mounting ${normalized} at ${target} failed: ${err.message}` +
        (err.message === 'fuse failed' ? ' (libfuse printed the reason above)' : ''), { mountpoint: target, cause: err }))
    })
  })

  const readAheadBytes = options.readAheadBytes ?? 1024 * 1024
  if (readAheadBytes > 0) {
    const problem = await setReadAhead(target, readAheadBytes)
    if (problem !== undefined) log(problem)
  }

  let unmounting: Promise<void> | undefined
  let signalGone!: () => void
  const gone = new Promise<void>((done) => (signalGone = done))
  const closeHandles = () => fs.closeAll()
  const watcher = setInterval(() => {
    void findMount(target).then(async (entry) => {
      if (entry !== undefined || unmounting !== undefined) return
      clearInterval(watcher)
      unmounting = closeHandles()
      await unmounting
      signalGone()
    })
  }, options.watchIntervalMs ?? 2000)
  watcher.unref()

  return {
    mountpoint: target,
    prefix: normalized,
    skipped: first.skipped,
    gone,
    stats: () => fs.stats(),
    unmount() {
      unmounting ??= (async () => {
        clearInterval(watcher)
        await new Promise<void>((done, fail) => {
          fuse.unmount((err) => {
            if (err === null || err === undefined) return done()
            // Already gone (unmounted from outside): that is the state we wanted.
            void Promise.all([findMount(target), isStaleMount(target)]).then(([entry, stale]) => {
              if (entry === undefined && !stale) done()
              else fail(new MountError('failed', `unmounting ${target} failed: ${err.message}`, { mountpoint: target, cause: err }))
            })
          })
        })
        await closeHandles()
      })()
      // A failed unmount (busy) may be retried.
      unmounting.catch(() => {
        unmounting = undefined
      })
      return unmounting
    },
  }
}
