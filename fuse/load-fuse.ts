/**
 * Loads fuse-native on demand, so that the rest of sluice (and any program that never mounts)
 * works on machines without libfuse, and says precisely what is missing when it is.
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { MountError } from './mountpoint.js'

/** The slice of fuse-native's class the mount uses. */
export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void
  unmount(cb: (err: (Error & { unmountFailure?: boolean }) | null) => void): void
  _fuseOptions(): string
}

export interface FuseConstructor {
  new (mountpoint: string, ops: object, options: Record<string, unknown>): FuseInstance
  prototype: FuseInstance
}

let loaded: Promise<FuseConstructor> | undefined

/** Imports fuse-native once; rejects with a MountError('unavailable') naming what to install. */
export function loadFuse(): Promise<FuseConstructor> {
  loaded ??= (async () => {
    try {
      await access('/dev/fuse', constants.R_OK | constants.W_OK)
    } catch (err) {
      throw new MountError('unavailable', `FUSE is not available: /dev/fuse is missing or not accessible ` +
        `(load the fuse module, or run the container with --device /dev/fuse --cap-add SYS_ADMIN)`, { cause: err })
    }
    try {
      // A variable specifier keeps the import lazy and untyped (fuse-native ships no types).
      const specifier = 'fuse-native'
      const mod = (await import(specifier)) as { default: FuseConstructor }
      return mod.default
    } catch (err) {
      const detail = (err as Error).message.split('\n')[0]
      throw new MountError('unavailable', `FUSE is not available: cannot load fuse-native (${detail}); ` +
        `install libfuse 2 (Debian/Ubuntu: apt-get install libfuse2 fuse)`, { cause: err })
    }
  })()
  loaded.catch(() => {
    loaded = undefined
  })
  return loaded
}
