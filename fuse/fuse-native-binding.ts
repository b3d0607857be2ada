/**
 * Mounting through fuse-native (libfuse 2): the fallback binding where the libfuse 3 addon
 * could not be built or cannot mount. Requests are at most 128 KiB and each holds a libfuse
 * thread until JavaScript answers it; operations.ts is the callback table.
 */
import { createOperations } from './operations.js'
import type { FuseConstructor, FuseInstance } from './load-fuse.js'
import { findMount, isStaleMount, MountError } from './mountpoint.js'
import type { ReadOnlyFileSystem } from './read-only-fs.js'
import type { FuseBinding } from './binding.js'

export interface FuseNativeMountInput {
  Fuse: FuseConstructor
  fs: ReadOnlyFileSystem
  target: string
  prefix: string
  /** libfuse 2 options (mount-options.ts). */
  optionList: string[]
  operationTimeoutMs: number
}

export async function mountFuseNative(input: FuseNativeMountInput): Promise<FuseBinding> {
  const { target, optionList } = input
  const ops = createOperations(input.fs)
  // fuse-native only knows a fixed set of options (no `ro`, no `ac_attr_timeout`), so the
  // subclass hands libfuse our list directly.
  class SluiceFuse extends (input.Fuse as unknown as new (...args: unknown[]) => FuseInstance) {
    override _fuseOptions(): string {
      return '-o' + optionList.join(',')
    }
  }
  // Reads have no per-operation timer: the core already bounds every request to the store
  // (timeouts and retries), and a timer per 128 KiB read is measurable overhead.
  const fuse = new SluiceFuse(target, ops, { timeout: { default: input.operationTimeoutMs, read: false } })
  await new Promise<void>((done, fail) => {
    fuse.mount((err) => {
      if (err === null || err === undefined) return done()
      fail(new MountError('failed', `mounting ${input.prefix} at ${target} failed: ${err.message}` +
        (err.message === 'fuse failed' ? ' (libfuse printed the reason above)' : ''), { mountpoint: target, cause: err }))
    })
  })
  return {
    backend: 'fuse-native',
    describe: () => 'fuse-native (libfuse 2): requests of at most 128 KiB',
    stats: () => undefined,
    unmount: () =>
      new Promise<void>((done, fail) => {
        fuse.unmount((err) => {
          if (err === null || err === undefined) return done()
          // Already gone (unmounted from outside): that is the state we wanted.
          void Promise.all([findMount(target), isStaleMount(target)]).then(([entry, stale]) => {
            if (entry === undefined && !stale) done()
            else fail(new MountError('failed', `unmounting ${target} failed: ${err.message}`, { mountpoint: target, cause: err }))
          })
        })
      }),
  }
}
