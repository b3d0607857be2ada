/**
 * `sluice/fuse`: mount an object prefix as a read-only directory over any `ObjectReader`
 * (normally a `BlockReader`), so that programs in any language read the cache through plain
 * files. fuse-native is loaded only when `mount` is called.
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
export { fuseAvailability, type FuseAvailability } from './load-fuse.js'
export { Errno, ERRNO_BY_CODE, errnoFor, errnoNameFor, type ErrnoName } from './errno.js'
export { libfuseOptions } from './mount-options.js'
