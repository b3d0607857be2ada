/**
 * Loads the libfuse 3 addon (native/sluice_fuse3.c, built by `npm ci`) on demand, and says
 * precisely why it cannot be used when it cannot: not built (no libfuse3-dev or compiler at
 * install time), not loadable, no /dev/fuse, or no way to mount (libfuse 3 mounts directly
 * as root; other users need `fusermount3`, from Debian's `fuse3` package).
 *
 * `SLUICE_FUSE3_ADDON` names another addon file (tests use it to see the fallback).
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** One kernel request as the addon hands it over (absent fields are 0 / none). */
export interface Fuse3Request {
  /** Present when the request expects an answer (every op but forget). */
  id?: number
  op: number
  ino: number
  fh?: number
  offset?: number
  /** forget: how many lookups the kernel forgets. */
  count?: number
  size?: number
  flags?: number
  /** lookup: the child's name; refuse: the operation's name. */
  name?: string
}

/** What INIT negotiated and how requests arrived (the addon's counters). */
export interface Fuse3Info {
  initialized: number
  maxWrite: number
  maxReadahead: number
  maxBackground: number
  congestionThreshold: number
  requests: number
  batches: number
  largestBatch: number
  slotWaits: number
  ended: number
  /** Read replies written by the reply threads, and the time spent writing them (the copy into the kernel's pages), in us. */
  readReplies: number
  replyWriteUs: number
  /** Requests taken from the kernel and not yet answered (slots in use). */
  inFlight: number
}

declare const sessionBrand: unique symbol
export type Fuse3Session = { readonly [sessionBrand]: true }

/** Attributes in the addon's order: ino, mode, nlink, uid, gid, size, blksize, blocks, atime/mtime/ctime (ms). */
export type AttrArray = [number, number, number, number, number, number, number, number, number, number, number]

/** The addon's exports; every reply returns false when the request was no longer waiting. */
export interface Fuse3Addon {
  readonly ops: Readonly<Record<'forget' | 'lookup' | 'getattr' | 'open' | 'read' | 'release' | 'opendir' | 'readdir' | 'releasedir' | 'statfs' | 'access' | 'refuse', number>>
  readonly libfuseVersion: string
  readonly slots: number
  mount(mountpoint: string, options: string[], onBatch: (batch: Fuse3Request[], ended: boolean, written: number[]) => void, loopThreads: number, replyThreads: number): Fuse3Session
  unmount(mountpoint: string, done: (errno: number) => void): void
  close(session: Fuse3Session): void
  ref(session: Fuse3Session, keepAlive: boolean): void
  info(session: Fuse3Session): Fuse3Info
  replyErr(session: Fuse3Session, id: number, errno: number): boolean
  replyEntry(session: Fuse3Session, id: number, attr: AttrArray | null, attrTimeoutS: number, entryTimeoutS: number): boolean
  replyAttr(session: Fuse3Session, id: number, attr: AttrArray, attrTimeoutS: number): boolean
  replyOpen(session: Fuse3Session, id: number, fh: number, keepCache: boolean): boolean
  replyRead(session: Fuse3Session, id: number, views: readonly Uint8Array[]): boolean
  replyDir(session: Fuse3Session, id: number, size: number, offset: number, names: readonly string[], inos: readonly number[], modes: readonly number[]): boolean
  replyStatfs(session: Fuse3Session, id: number, values: readonly number[]): boolean
}

export type Fuse3Availability = { available: true; addon: Fuse3Addon } | { available: false; reason: string }

const DEFAULT_ADDON = fileURLToPath(new URL('../../native/build/Release/sluice_fuse3.node', import.meta.url))

let loaded: Promise<Fuse3Availability> | undefined

/** The addon, or why the libfuse 3 backend cannot run here (checked once per process). */
export function fuse3Availability(): Promise<Fuse3Availability> {
  loaded ??= probe()
  return loaded
}

async function probe(): Promise<Fuse3Availability> {
  const path = process.env.SLUICE_FUSE3_ADDON || DEFAULT_ADDON
  try {
    await access(path, constants.R_OK)
  } catch {
    return { available: false, reason: `the addon ${path} was not built (npm ci prints why; after installing libfuse3-dev and build-essential: npm run build:native)` }
  }
  let addon: Fuse3Addon
  try {
    addon = createRequire(import.meta.url)(path) as Fuse3Addon
  } catch (err) {
    return { available: false, reason: `cannot load ${path}: ${(err as Error).message.split('\n')[0]}` }
  }
  try {
    await access('/dev/fuse', constants.R_OK | constants.W_OK)
  } catch {
    return { available: false, reason: '/dev/fuse is missing or not accessible' }
  }
  if (process.getuid?.() !== 0 && !(await onPath('fusermount3'))) {
    return { available: false, reason: 'not root and no fusermount3 (Debian/Ubuntu: the fuse3 package)' }
  }
  return { available: true, addon }
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      await access(join(dir, program), constants.X_OK)
      return true
    } catch {}
  }
  return false
}
