/**
 * The FUSE operations of a read-only mount, as the callback table fuse-native calls.
 *
 * Every operation is an async function whose result or failure is turned into one callback:
 * nothing here may block the event loop or throw into fuse-native, because each FUSE request
 * holds a libfuse thread until JavaScript answers it, and a synchronous wait in this process
 * on a path under the mount would wait for itself. Reads are copied into the kernel's buffer
 * from block-sized read windows (read-windows.ts): synchronously when the window is already
 * fetched, so a warm read costs one copy and no promise. Many reads are in flight at once,
 * one per libfuse thread, but JavaScript answers them one at a time.
 */
import type { MountReader } from './reader.js'
import { Errno, FuseOperationError, errnoFor, errnoNameFor } from './errno.js'
import type { HandleTable } from './handles.js'
import type { ReadWindows } from './read-windows.js'
import type { ListingCache } from './listing.js'
import { lookup, type TreeNode } from './tree.js'
import type { VersionClock } from './version-clock.js'

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const O_ACCMODE = 0o3
const O_RDONLY = 0
const O_TRUNC = 0o1000
const W_OK = 2
/** statfs reports sizes in 1 MiB fragments so that petabytes still fit fuse-native's uint32 fields. */
const STATFS_FRAGMENT = 1024 * 1024
const ST_RDONLY = 1

/** Counters of what the mount did, for logs and metrics. */
export interface MountCounters {
  operations: Record<string, number>
  /** Failed operations by errno name. */
  errors: Record<string, number>
  bytesRead: number
  opens: number
}

export interface OperationsContext {
  reader: MountReader
  listing: ListingCache
  clock: VersionClock
  handles: HandleTable
  windows: ReadWindows
  counters: MountCounters
  uid: number
  gid: number
  log: (line: string) => void
}

type Callback = (result: number, ...values: unknown[]) => void
export type FuseOperations = Record<string, (...args: any[]) => void>

export function newMountCounters(): MountCounters {
  return { operations: {}, errors: {}, bytesRead: 0, opens: 0 }
}

export function createOperations(ctx: OperationsContext): FuseOperations {
  const { reader, listing, clock, handles, windows, counters } = ctx
  const lastLogged = new Map<string, number>()

  function fail(op: string, path: string, err: unknown): number {
    const name = errnoNameFor(err)
    counters.errors[name] = (counters.errors[name] ?? 0) + 1
    // ENOENT and EROFS are answers, not faults; anything else is worth a (rate-limited) line.
    if (name !== 'ENOENT' && name !== 'EROFS' && name !== 'EISDIR') {
      const code = (err as { code?: string } | null)?.code ?? 'error'
      const key = `${op}:${code}`
      const now = Date.now()
      if (now - (lastLogged.get(key) ?? 0) > 10_000) {
        lastLogged.set(key, now)
        ctx.log(`${op} ${path}: ${name} (${code}) ${(err as Error)?.message ?? String(err)}`)
      }
    }
    return errnoFor(err)
  }

  /** Runs `work` and answers `cb(0, ...values)` or `cb(-errno)`. */
  function answer(op: string, path: string, cb: Callback, work: () => Promise<unknown[]>): void {
    counters.operations[op] = (counters.operations[op] ?? 0) + 1
    work().then(
      (values) => cb(0, ...values),
      (err) => cb(fail(op, path, err)),
    )
  }

  async function nodeAt(path: string): Promise<TreeNode> {
    const node = lookup(await listing.snapshot(), path)
    if (node === undefined) throw new FuseOperationError('ENOENT', `no such file: ${path}`)
    return node
  }

  function statOf(path: string, node: TreeNode) {
    if (node.kind === 'dir') {
      const time = node.mtimeMs
      return { mode: S_IFDIR | 0o555, size: 4096, nlink: 2, uid: ctx.uid, gid: ctx.gid, mtime: time, atime: time, ctime: time, blksize: 4096, blocks: 8 }
    }
    const time = clock.mtimeFor(path, node.info)
    return {
      mode: S_IFREG | 0o444,
      size: node.info.size,
      nlink: 1,
      uid: ctx.uid,
      gid: ctx.gid,
      mtime: time,
      atime: time,
      ctime: time,
      blksize: 128 * 1024,
      blocks: Math.ceil(node.info.size / 512),
    }
  }

  const readOnly = (op: string) => (...args: unknown[]) => {
    const cb = args[args.length - 1] as Callback
    counters.operations[op] = (counters.operations[op] ?? 0) + 1
    counters.errors.EROFS = (counters.errors.EROFS ?? 0) + 1
    cb(Errno.EROFS)
  }

  /**
   * One read: the bytes copied (or -errno) when it can be answered at once, which is every
   * read of a window already fetched; otherwise a promise of that number (never rejected).
   */
  function serveRead(path: string, fd: number, buffer: Uint8Array, length: number, position: number): number | Promise<number> {
    counters.operations.read = (counters.operations.read ?? 0) + 1
    const file = handles.get(fd)
    if (file === undefined) return fail('read', path, new FuseOperationError('EBADF', `bad file handle ${fd}`))
    const size = file.handle.size
    if (position >= size || length === 0) return 0
    const want = Math.min(length, size - position)
    const n = windows.copyReady(fd, file.handle, buffer, position, want)
    if (n >= 0) {
      counters.bytesRead += n
      return n
    }
    return windows.readInto(fd, file.handle, buffer, position, want).then(
      (copied) => {
        counters.bytesRead += copied
        return copied
      },
      (err) => fail('read', path, err),
    )
  }

  return {
    init(cb: Callback) {
      cb(0)
    },

    getattr(path: string, cb: Callback) {
      answer('getattr', path, cb, async () => [statOf(path, await nodeAt(path))])
    },

    access(path: string, mode: number, cb: Callback) {
      answer('access', path, cb, async () => {
        await nodeAt(path)
        if (mode & W_OK) throw new FuseOperationError('EROFS', 'read-only mount')
        return []
      })
    },

    readdir(path: string, cb: Callback) {
      answer('readdir', path, cb, async () => {
        const node = await nodeAt(path)
        if (node.kind !== 'dir') throw new FuseOperationError('ENOTDIR', `not a directory: ${path}`)
        const names = ['.', '..']
        const stats: unknown[] = [statOf(path, node), statOf(path, node)]
        const base = path.endsWith('/') ? path : path + '/'
        for (const [name, child] of node.children) {
          names.push(name)
          stats.push(statOf(base + name, child))
        }
        return [names, stats]
      })
    },

    open(path: string, flags: number, cb: Callback) {
      answer('open', path, cb, async () => {
        if ((flags & O_ACCMODE) !== O_RDONLY || flags & O_TRUNC) throw new FuseOperationError('EROFS', 'read-only mount')
        const node = await nodeAt(path)
        if (node.kind === 'dir') throw new FuseOperationError('EISDIR', `is a directory: ${path}`)
        // Opening with the listed info pins the listed version without a request to the store:
        // a second epoch costs nothing, and the version is at most one metadata TTL old. If the
        // store moved on since, uncached reads fail with ESTALE instead of mixing versions.
        const handle = await reader.open(node.info)
        // Should a reader hand back another version anyway, report that one from here on, so
        // libfuse's auto_cache check right after this open sees the change.
        if (handle.version !== node.info.version || handle.size !== node.info.size) {
          listing.noteOpened(path, { ...handle.info, mtimeMs: handle.info.mtimeMs ?? node.info.mtimeMs })
        }
        counters.opens++
        return [handles.add({ path, handle })]
      })
    },

    read(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Callback) {
      const result = serveRead(path, fd, buffer, length, position)
      if (typeof result === 'number') cb(result)
      else void result.then(cb)
    },

    release(path: string, fd: number, cb: Callback) {
      answer('release', path, cb, async () => {
        const file = handles.remove(fd)
        windows.drop(fd)
        await file?.handle.close()
        return []
      })
    },

    statfs(path: string, cb: Callback) {
      answer('statfs', path, cb, async () => {
        const snapshot = await listing.snapshot()
        const blocks = Math.min(0xffffffff, Math.ceil(snapshot.totalBytes / STATFS_FRAGMENT))
        return [{
          bsize: STATFS_FRAGMENT,
          frsize: STATFS_FRAGMENT,
          blocks,
          bfree: 0,
          bavail: 0,
          files: Math.min(0xffffffff, snapshot.objectCount),
          ffree: 0,
          favail: 0,
          fsid: 0,
          flag: ST_RDONLY,
          namemax: 255,
        }]
      })
    },

    // Everything that would change the tree answers EROFS. The mount is also mounted `ro`, so
    // the kernel usually refuses these before they get here; this is the second line.
    create: readOnly('create'),
    write: readOnly('write'),
    truncate: readOnly('truncate'),
    ftruncate: readOnly('ftruncate'),
    unlink: readOnly('unlink'),
    rename: readOnly('rename'),
    mkdir: readOnly('mkdir'),
    rmdir: readOnly('rmdir'),
    symlink: readOnly('symlink'),
    link: readOnly('link'),
    chmod: readOnly('chmod'),
    chown: readOnly('chown'),
    utimens: readOnly('utimens'),
    mknod: readOnly('mknod'),
    setxattr: readOnly('setxattr'),
    removexattr: readOnly('removexattr'),
  }
}
