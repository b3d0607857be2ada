/**
 * Mounting an object prefix as a read-only directory: a ReadOnlyFileSystem bound to the
 * kernel by one of two bindings (binding.ts: the libfuse 3 addon, else fuse-native), plus
 * the lifecycle around them (check the mountpoint, list before mounting so a bad URL fails
 * here and not on first `ls`, raise the kernel read-ahead, unmount and close open handles).
 *
 * The mount never owns the reader: whoever created the BlockReader closes it, after
 * `unmount()`, which is how the CLI flushes the cache on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { MountReader } from './reader.js'
import { chooseBackend, type FuseBackendChoice, type FuseBackendName, type FuseBinding } from './binding.js'
import { mountFuse3 } from './fuse3-binding.js'
import { mountFuseNative } from './fuse-native-binding.js'
import type { Fuse3Info } from './load-fuse3.js'
import { kernelTimeoutSeconds, libfuse3Options, libfuseOptions } from './mount-options.js'
import { checkMountpoint, findMount } from './mountpoint.js'
import { setReadAhead } from './read-ahead.js'
import { ReadOnlyFileSystem, type MountStats as FsStats } from './read-only-fs.js'
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
  /** Which binding serves the mount: `libfuse3` (the addon), `fuse-native` (libfuse 2), or `auto`: libfuse 3 when it can, saying why not otherwise. Default `auto`. */
  backend?: FuseBackendChoice
}

export interface MountStats extends FsStats {
  /** The binding serving the mount. */
  backend: FuseBackendName
  /** The kernel read-ahead set on the mount, in bytes (undefined when it could not be set). */
  readAheadBytes: number | undefined
  /** libfuse 3 only: what INIT negotiated (maxWrite: the largest request) and how requests arrived in batches. */
  session?: Fuse3Info
}

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
  const backend = await chooseBackend(options.backend ?? 'auto', log)
  const fs = new ReadOnlyFileSystem(reader, { prefix: normalized, metadataTtlMs, log, maxWindowBytes: options.maxWindowBytes })
  const first = await fs.load()
  const optionInput = { metadataTtlMs, allowOther: options.allowOther ?? false, prefix: normalized, debug: options.fuseDebug }
  const binding: FuseBinding = backend.name === 'libfuse3'
    ? await mountFuse3({ addon: backend.addon, fs, target, prefix: normalized, optionList: libfuse3Options(optionInput), kernelTimeoutS: kernelTimeoutSeconds(metadataTtlMs) })
    : await mountFuseNative({ Fuse: backend.Fuse, fs, target, prefix: normalized, optionList: libfuseOptions(optionInput), operationTimeoutMs: options.operationTimeoutMs ?? 300_000 })

  // Buffered reads arrive in requests of at most the read-ahead: with libfuse 3, 1 MiB of
  // read-ahead is what makes them 1 MiB requests. This stat also waits out INIT.
  let readAheadBytes: number | undefined = options.readAheadBytes ?? 1024 * 1024
  if (readAheadBytes > 0) {
    const problem = await setReadAhead(target, readAheadBytes)
    if (problem !== undefined) {
      log(problem)
      readAheadBytes = undefined
    }
  } else {
    readAheadBytes = undefined
  }
  log(`serving ${target} with ${binding.describe()}; kernel read-ahead ${readAheadBytes === undefined ? 'unchanged (128 KiB)' : `${Math.round(readAheadBytes / 1024)} KiB`}`)

  let unmounting: Promise<void> | undefined
  let signalGone!: () => void
  const gone = new Promise<void>((done) => (signalGone = done))
  const closeHandles = () => fs.closeAll()
  const goneFromOutside = async () => {
    if (unmounting !== undefined) return
    clearInterval(watcher)
    unmounting = closeHandles()
    await unmounting
    signalGone()
  }
  // libfuse 3 says at once when the connection ended; fuse-native is polled.
  void binding.ended?.then(goneFromOutside)
  const watcher = setInterval(() => {
    void findMount(target).then(async (entry) => {
      if (entry === undefined) await goneFromOutside()
    })
  }, options.watchIntervalMs ?? 2000)
  watcher.unref()

  return {
    mountpoint: target,
    prefix: normalized,
    skipped: first.skipped,
    gone,
    stats: () => {
      const session = binding.stats()
      return { ...fs.stats(), backend: binding.backend, readAheadBytes, ...(session === undefined ? {} : { session }) }
    },
    unmount() {
      unmounting ??= (async () => {
        clearInterval(watcher)
        await binding.unmount()
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
