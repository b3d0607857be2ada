/**
 * The two bindings between the kernel and ReadOnlyFileSystem, and which one a mount runs.
 *
 * `libfuse3` is the project's own addon (native/, fuse3-binding.ts): 1 MiB requests, handed
 * to JavaScript in batches, answered from the cached blocks' memory. `fuse-native` (libfuse
 * 2, fuse-native-binding.ts) is the fallback where the addon was not built (no libfuse3-dev
 * or compiler at `npm ci`) or cannot mount. `auto` picks libfuse 3 when it can and otherwise
 * says, in one log line, why it falls back.
 */
import type { Fuse3Addon, Fuse3Info } from './load-fuse3.js'
import { fuse3Availability } from './load-fuse3.js'
import { loadFuse, type FuseConstructor } from './load-fuse.js'
import { MountError } from './mountpoint.js'

export type FuseBackendName = 'libfuse3' | 'fuse-native'
export type FuseBackendChoice = FuseBackendName | 'auto'
export const FUSE_BACKENDS: readonly FuseBackendChoice[] = ['auto', 'libfuse3', 'fuse-native']

/** A mounted binding, as mount.ts drives it. */
export interface FuseBinding {
  readonly backend: FuseBackendName
  /** One line for the log: the backend and the request size in effect. */
  describe(): string
  /** The addon's counters (libfuse 3 only). */
  stats(): Fuse3Info | undefined
  /** Detaches the mount; files still open are served until closed. */
  unmount(): Promise<void>
  /** Resolves when the kernel connection ended, however it ended (libfuse 3 only). */
  readonly ended?: Promise<void>
}

export type ChosenBackend = { name: 'libfuse3'; addon: Fuse3Addon } | { name: 'fuse-native'; Fuse: FuseConstructor }

export type FuseAvailability = { available: true } | { available: false; reason: string }

/** The backend to mount with; rejects with MountError('unavailable') when the choice cannot run. */
export async function chooseBackend(choice: FuseBackendChoice, log: (line: string) => void): Promise<ChosenBackend> {
  if (!FUSE_BACKENDS.includes(choice)) throw new RangeError(`backend must be one of ${FUSE_BACKENDS.join(', ')}, got ${String(choice)}`)
  if (choice !== 'fuse-native') {
    const fuse3 = await fuse3Availability()
    if (fuse3.available) return { name: 'libfuse3', addon: fuse3.addon }
    if (choice === 'libfuse3') throw new MountError('unavailable', `the libfuse 3 backend is not available: ${fuse3.reason}`)
    log(`libfuse 3 backend unavailable (${fuse3.reason}); using fuse-native (libfuse 2)`)
  }
  return { name: 'fuse-native', Fuse: await loadFuse() }
}

/** Whether mounting with `backend` can work here, with the reason when not (tests print it when skipping). */
export async function fuseAvailability(backend: FuseBackendChoice = 'auto'): Promise<FuseAvailability> {
  try {
    await chooseBackend(backend, () => {})
    return { available: true }
  } catch (err) {
    return { available: false, reason: (err as Error).message }
  }
}
