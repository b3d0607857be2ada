/**
 * Mounting through the libfuse 3 addon: the session's lifecycle around Fuse3Adapter.
 *
 * The addon mounts and starts libfuse's multi-threaded session loop; the loop ends when the
 * kernel connection does (our unmount, `sluice unmount` or `fusermount -u` from elsewhere,
 * or the last open file closing after a lazy unmount). Its end arrives as the batch
 * callback's `ended` flag, and only then is the session closed: requests JavaScript still
 * owed are dropped, libfuse's session destroyed, the thread-safe function released.
 *
 * Unmounting is lazy, like fuse-native's `fusermount -uz`: the mount leaves the namespace at
 * once, and files still open keep being served until they close. As root the addon detaches
 * with umount2 on libuv's thread pool; otherwise fusermount3 does. The mount keeps the
 * process alive until it is unmounted, as fuse-native's does.
 */
import { execFile } from 'node:child_process'
import { Fuse3Adapter } from './fuse3-adapter.js'
import type { Fuse3Addon, Fuse3Session } from './load-fuse3.js'
import { findMount, MountError } from './mountpoint.js'
import type { ReadOnlyFileSystem } from './read-only-fs.js'
import type { FuseBinding } from './binding.js'

/** Threads of libfuse's session loop: they only queue requests, so a few are plenty. */
const LOOP_THREADS = 4
/** Threads writing read replies (the copy into the kernel's pages). */
const REPLY_THREADS = Number(process.env.SLUICE_FUSE3_REPLY_THREADS ?? 2)
const EINVAL = 22

export interface Fuse3MountInput {
  addon: Fuse3Addon
  fs: ReadOnlyFileSystem
  target: string
  prefix: string
  /** libfuse 3 options (mount-options.ts). */
  optionList: string[]
  /** Attribute, entry and negative-entry timeout sent with replies, in seconds. */
  kernelTimeoutS: number
}

export async function mountFuse3(input: Fuse3MountInput): Promise<FuseBinding> {
  const { addon, target } = input
  let signalEnded!: () => void
  const ended = new Promise<void>((done) => (signalEnded = done))
  let session: Fuse3Session | undefined
  let closed = false
  const adapter = new Fuse3Adapter(addon, input.fs, input.kernelTimeoutS, () => {
    if (closed || session === undefined) return
    closed = true
    addon.close(session)
    signalEnded()
  })
  try {
    session = addon.mount(target, ['-o', input.optionList.join(',')], adapter.onBatch, LOOP_THREADS, REPLY_THREADS)
  } catch (err) {
    throw new MountError('failed', `mounting ${input.prefix} at ${target} failed: ${(err as Error).message}`, { mountpoint: target, cause: err })
  }
  adapter.attach(session)
  const mounted = session

  const detach = () =>
    new Promise<number>((done) => {
      if (process.getuid?.() === 0) addon.unmount(target, done)
      else execFile('fusermount3', ['-u', '-z', target], { timeout: 30_000 }, (err) => done(err === null ? 0 : EINVAL))
    })

  return {
    backend: 'libfuse3',
    ended,
    describe() {
      const info = addon.info(mounted)
      const size = info.initialized ? `requests of up to ${Math.round(info.maxWrite / 1024)} KiB` : 'INIT not yet negotiated'
      return `libfuse 3 (${addon.libfuseVersion}, own addon): ${size}, ${info.maxBackground} read-ahead requests in flight, ${LOOP_THREADS} loop and ${REPLY_THREADS} reply threads`
    },
    stats: () => addon.info(mounted),
    async unmount() {
      if (closed) return
      const errno = await detach()
      // Already gone (unmounted from outside): that is the state we wanted.
      if (errno !== 0 && (await findMount(target)) !== undefined) {
        throw new MountError('failed', `unmounting ${target} failed (errno ${errno})`, { mountpoint: target })
      }
      if (!closed) addon.ref(mounted, false)
    },
  }
}
