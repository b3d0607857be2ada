/**
 * The read-only file system a mount shows, with no FUSE library in sight: the tree from the
 * listing cache, the open-file table, reads through the core's ObjectHandle, and the errno
 * every failure answers with. A binding (fuse-native today, see operations.ts; a libfuse 3
 * addon later) only turns kernel requests into these calls and their results into replies,
 * which is why the semantics can be tested without a mount.
 *
 * Every method is async and either resolves to the reply's values or rejects with a
 * FuseOperationError carrying the errno (errno.ts holds the one table from sluice error codes).
 *
 * While a file is open, its path reports the version the open handles are pinned to, and
 * further opens pin that same version, even after a listing refresh found a newer one: the
 * kernel sizes its reads by the size getattr reports, so a size from another version than
 * the handle's would cut reads short or ask past the handle's end. The listing's newer
 * version shows from the first getattr after the last close (and its new mtime makes the
 * next open drop the page cache). Bytes the store no longer has for the pinned version
 * still fail with ESTALE, as before.
 * Nothing here may block the event loop: the process serving the mount must never wait on
 * a path under it. Each failure is counted by errno, and logged (rate-limited) unless it is an
 * answer rather than a fault (ENOENT, EROFS, EISDIR).
 */
import type { ObjectInfo } from '../lib/index.js'
import type { MountReader } from './reader.js'
import { FuseOperationError, toFuseError, type ErrnoName } from './errno.js'
import { HandleTable } from './handles.js'
import { ListingCache } from './listing.js'
import { ReadWindows, type ReadLease } from './read-windows.js'
import { lookup, type TreeNode, type TreeSnapshot } from './tree.js'
import { VersionClock } from './version-clock.js'

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const O_ACCMODE = 0o3
const O_RDONLY = 0
const O_TRUNC = 0o1000
const W_OK = 2
/** statfs reports sizes in 1 MiB fragments so that petabytes still fit 32-bit fields. */
const STATFS_FRAGMENT = 1024 * 1024
const ST_RDONLY = 1
const UINT32_MAX = 0xffffffff
/** Failures that answer a question rather than report a fault: counted, never logged. */
const ANSWERS: ReadonlySet<ErrnoName> = new Set(['ENOENT', 'EROFS', 'EISDIR'])
const LOG_EVERY_MS = 10_000

/** Counters of what the file system did, for logs and metrics. */
export interface MountCounters {
  operations: Record<string, number>
  /** Failed operations by errno name. */
  errors: Record<string, number>
  bytesRead: number
  opens: number
  /** The kernel's read requests: how many, the bytes they asked for, the largest, and how many were >= 512 KiB. */
  readRequests: { count: number; requestedBytes: number; largestBytes: number; atLeast512KiB: number }
}

export interface MountStats extends MountCounters {
  openFiles: number
  objectCount: number
  totalBytes: number
}

/** A file's or directory's attributes; times in ms since the epoch. */
export interface FileStat {
  mode: number
  size: number
  nlink: number
  uid: number
  gid: number
  mtime: number
  atime: number
  ctime: number
  blksize: number
  blocks: number
}

export interface FsStat {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  fsid: number
  flag: number
  namemax: number
}

/** A directory's entries, `.` and `..` first, with their attributes in the same order. */
export interface DirEntries {
  names: string[]
  stats: FileStat[]
}

export interface ReadOnlyFileSystemOptions {
  /** The listed prefix, ending with `/` (see normalizePrefix). */
  prefix: string
  /** How long a listing is reused before the next operation re-lists, in ms. */
  metadataTtlMs: number
  /** Owner reported for every file. Default: this process's. */
  uid?: number
  gid?: number
  /** Where log lines go. Default: nowhere. */
  log?: (line: string) => void
  /** Bound on the block-sized read windows kept for open files, in bytes. Default 256 MiB. */
  maxWindowBytes?: number
}

export class ReadOnlyFileSystem {
  readonly prefix: string
  private readonly reader: MountReader
  private readonly listing: ListingCache
  private readonly clock = new VersionClock()
  private readonly handles = new HandleTable()
  private readonly windows: ReadWindows
  private readonly counters: MountCounters = {
    operations: {},
    errors: {},
    bytesRead: 0,
    opens: 0,
    readRequests: { count: 0, requestedBytes: 0, largestBytes: 0, atLeast512KiB: 0 },
  }
  /** Paths with open handles → the version they are pinned to and how many handles. */
  private readonly held = new Map<string, { info: ObjectInfo; handles: number }>()
  private readonly uid: number
  private readonly gid: number
  private readonly log: (line: string) => void
  private readonly lastLogged = new Map<string, number>()

  constructor(reader: MountReader, options: ReadOnlyFileSystemOptions) {
    if (!(options.metadataTtlMs >= 0)) throw new RangeError(`metadataTtlMs must be >= 0, got ${options.metadataTtlMs}`)
    this.reader = reader
    this.prefix = options.prefix
    this.log = options.log ?? (() => {})
    this.listing = new ListingCache(reader, options.prefix, options.metadataTtlMs, this.log)
    this.uid = options.uid ?? process.getuid?.() ?? 0
    this.gid = options.gid ?? process.getgid?.() ?? 0
    const windowBytes = reader.blockSize ?? 4 * 1024 * 1024
    // Without a memory tier, windows are read into pooled buffers (see read-windows.ts).
    const tiers = reader.stats?.().tiers
    const pooled = tiers !== undefined && !tiers.some((t) => t.name === 'memory' && t.maxBytes > 0)
    this.windows = new ReadWindows(windowBytes, Math.floor((options.maxWindowBytes ?? 256 * 1024 * 1024) / windowBytes), pooled)
  }

  /** Lists the prefix now; rejects with the core's error when that fails (used before mounting). */
  load(): Promise<TreeSnapshot> {
    return this.listing.load()
  }

  getattr(path: string): Promise<FileStat> {
    return this.run('getattr', path, async () => this.statOf(path, await this.nodeAt(path)))
  }

  /** Existence check; any write access is EROFS. */
  access(path: string, mode: number): Promise<void> {
    return this.run('access', path, async () => {
      await this.nodeAt(path)
      if (mode & W_OK) throw new FuseOperationError('EROFS', 'read-only mount')
    })
  }

  readdir(path: string): Promise<DirEntries> {
    return this.run('readdir', path, async () => {
      const node = await this.nodeAt(path)
      if (node.kind !== 'dir') throw new FuseOperationError('ENOTDIR', `not a directory: ${path}`)
      const self = this.statOf(path, node)
      const names = ['.', '..']
      const stats = [self, self]
      const base = path.endsWith('/') ? path : path + '/'
      for (const [name, child] of node.children) {
        names.push(name)
        stats.push(this.statOf(base + name, child))
      }
      return { names, stats }
    })
  }

  /** Opens a file read-only, pinned to the listed version; resolves to its file handle (>= 1). */
  open(path: string, flags: number): Promise<number> {
    return this.run('open', path, async () => {
      if ((flags & O_ACCMODE) !== O_RDONLY || flags & O_TRUNC) throw new FuseOperationError('EROFS', 'read-only mount')
      const node = await this.nodeAt(path)
      if (node.kind === 'dir') throw new FuseOperationError('EISDIR', `is a directory: ${path}`)
      // Opening with the listed info pins the listed version without a request to the store:
      // a second epoch costs nothing, and the version is at most one metadata TTL old. If the
      // store moved on since, uncached reads fail with ESTALE instead of mixing versions.
      // A path already open stays on its open handles' version (see the header).
      const listed = this.held.get(path)?.info ?? node.info
      const handle = await this.reader.open(listed)
      let info = listed
      // Should a reader hand back another version anyway, report that one from here on, so
      // the page-cache check right after this open sees the change.
      if (handle.version !== listed.version || handle.size !== listed.size) {
        info = { ...handle.info, mtimeMs: handle.info.mtimeMs ?? listed.mtimeMs }
        this.listing.noteOpened(path, info)
      }
      const held = this.held.get(path)
      if (held === undefined || held.info.version !== info.version) this.held.set(path, { info, handles: (held?.handles ?? 0) + 1 })
      else held.handles++
      this.counters.opens++
      return this.handles.add({ path, handle })
    })
  }

  /**
   * Copies up to `length` bytes at `position` of open file `fd` into `target`; resolves to the
   * count (0 at or past the end). Served from block-sized read windows (read-windows.ts): a
   * window already fetched is copied from at once, without a trip through the block cache.
   */
  async read(path: string, fd: number, target: Uint8Array, length: number, position: number): Promise<number> {
    this.countRead(length)
    try {
      const file = this.handles.get(fd)
      if (file === undefined) throw new FuseOperationError('EBADF', `bad file handle ${fd}`)
      const want = Math.min(length, target.length, file.handle.size - position)
      if (want <= 0) return 0
      let n = this.windows.copyReady(fd, file.handle, target, position, want)
      if (n < 0) n = await this.windows.readInto(fd, file.handle, target, position, want)
      this.counters.bytesRead += n
      return n
    } catch (err) {
      throw this.failure('read', path, err)
    }
  }

  /**
   * A lease on up to `length` bytes at `position` of open file `fd`: views of the read
   * windows, in order (none at or past the end), for a binding that replies without
   * copying. The views must not be written to, and the lease must be released once they
   * are no longer read (a pooled window's buffer is reused after that).
   */
  async readViews(path: string, fd: number, length: number, position: number): Promise<ReadLease> {
    this.countRead(length)
    try {
      const file = this.handles.get(fd)
      if (file === undefined) throw new FuseOperationError('EBADF', `bad file handle ${fd}`)
      const want = Math.max(0, Math.min(length, file.handle.size - position))
      const lease = this.windows.leaseReady(fd, file.handle, position, want) ?? (await this.windows.lease(fd, file.handle, position, want))
      for (const v of lease.views) this.counters.bytesRead += v.length
      return lease
    } catch (err) {
      throw this.failure('read', path, err)
    }
  }

  /** Closes open file `fd`; an unknown fd is not an error (the kernel releases each fd once). */
  release(path: string, fd: number): Promise<void> {
    return this.run('release', path, async () => {
      const file = this.handles.remove(fd)
      this.windows.drop(fd)
      if (file === undefined) return
      const held = this.held.get(file.path)
      if (held !== undefined && --held.handles <= 0) this.held.delete(file.path)
      await file.handle.close()
    })
  }

  statfs(path: string): Promise<FsStat> {
    return this.run('statfs', path, async () => {
      const snapshot = await this.listing.snapshot()
      return {
        bsize: STATFS_FRAGMENT,
        frsize: STATFS_FRAGMENT,
        blocks: Math.min(UINT32_MAX, Math.ceil(snapshot.totalBytes / STATFS_FRAGMENT)),
        bfree: 0,
        bavail: 0,
        files: Math.min(UINT32_MAX, snapshot.objectCount),
        ffree: 0,
        favail: 0,
        fsid: 0,
        flag: ST_RDONLY,
        namemax: 255,
      }
    })
  }

  /**
   * Any operation that would change the tree (create, write, unlink, ...): always EROFS. The
   * mount is also `ro`, so the kernel usually refuses these first; this is the second line.
   */
  refuse(op: string, path: string): Promise<never> {
    return this.run(op, path, async () => {
      throw new FuseOperationError('EROFS', 'read-only mount')
    })
  }

  stats(): MountStats {
    const snapshot = this.listing.peek()
    return {
      operations: { ...this.counters.operations },
      errors: { ...this.counters.errors },
      bytesRead: this.counters.bytesRead,
      opens: this.counters.opens,
      readRequests: { ...this.counters.readRequests },
      openFiles: this.handles.size,
      objectCount: snapshot?.objectCount ?? 0,
      totalBytes: snapshot?.totalBytes ?? 0,
    }
  }

  /** Closes every open file (after unmounting: no release will come for them). */
  async closeAll(): Promise<void> {
    this.windows.clear()
    this.held.clear()
    await Promise.allSettled(this.handles.drain().map((file) => file.handle.close()))
  }

  private count(op: string): void {
    this.counters.operations[op] = (this.counters.operations[op] ?? 0) + 1
  }

  private countRead(length: number): void {
    this.count('read')
    const r = this.counters.readRequests
    r.count++
    r.requestedBytes += length
    if (length > r.largestBytes) r.largestBytes = length
    if (length >= 512 * 1024) r.atLeast512KiB++
  }

  private async run<T>(op: string, path: string, work: () => Promise<T>): Promise<T> {
    this.count(op)
    try {
      return await work()
    } catch (err) {
      throw this.failure(op, path, err)
    }
  }

  /** Counts a failure, logs it if it is a fault, and returns it as a FuseOperationError. */
  private failure(op: string, path: string, err: unknown): FuseOperationError {
    const failure = toFuseError(err)
    const name = failure.errno
    this.counters.errors[name] = (this.counters.errors[name] ?? 0) + 1
    if (!ANSWERS.has(name)) {
      const code = (err as { code?: string } | null)?.code ?? 'error'
      const key = `${op}:${code}`
      const now = Date.now()
      if (now - (this.lastLogged.get(key) ?? 0) > LOG_EVERY_MS) {
        this.lastLogged.set(key, now)
        this.log(`${op} ${path}: ${name} (${code}) ${failure.message}`)
      }
    }
    return failure
  }

  private async nodeAt(path: string): Promise<TreeNode> {
    const node = lookup(await this.listing.snapshot(), path)
    if (node === undefined) throw new FuseOperationError('ENOENT', `no such file: ${path}`)
    return node
  }

  private statOf(path: string, node: TreeNode): FileStat {
    if (node.kind === 'dir') {
      const time = node.mtimeMs
      return { mode: S_IFDIR | 0o555, size: 4096, nlink: 2, uid: this.uid, gid: this.gid, mtime: time, atime: time, ctime: time, blksize: 4096, blocks: 8 }
    }
    const info = this.held.get(path)?.info ?? node.info
    const time = this.clock.mtimeFor(path, info)
    const size = info.size
    return { mode: S_IFREG | 0o444, size, nlink: 1, uid: this.uid, gid: this.gid, mtime: time, atime: time, ctime: time, blksize: 128 * 1024, blocks: Math.ceil(size / 512) }
  }
}
