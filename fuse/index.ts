/**
 * `sluice/fuse`: mount an object prefix as a read-only directory over any `ObjectReader`
 * (normally a `BlockReader`), so that programs in any language read the cache through plain
 * files. The binding (the libfuse 3 addon, else fuse-native) is loaded only when `mount` is
 * called; `MountOptions.backend` chooses one.
 *
 * ```ts
 * const reader = new BlockReader({ cacheDir: '/var/cache/sluice', ... })
 * const m = await mount(reader, 's3://bucket/train', '/mnt/train', { metadataTtlMs: 60_000 })
 * // ... later
 * await m.unmount()
 * await reader.close()
 * ```
 */
export type { MountReader } from './reader.js'
export { mount, normalizePrefix, type MountOptions, type MountStats, type SluiceMount } from './mount.js'
export { unmountPath as unmount, checkMountpoint, findMount, isStaleMount, listMounts, MountError, type MountErrorReason, type MountEntry } from './mountpoint.js'
export { fuseAvailability, FUSE_BACKENDS, type FuseAvailability, type FuseBackendChoice, type FuseBackendName } from './binding.js'
export type { Fuse3Info } from './load-fuse3.js'
export { Errno, ERRNO_BY_CODE, errnoFor, errnoNameFor, type ErrnoName } from './errno.js'
export { libfuse3Options, libfuseOptions } from './mount-options.js'
