/**
 * The libfuse 3 binding of ReadOnlyFileSystem: the addon hands over kernel requests in
 * batches, and each is forwarded to the file system and answered by id when its promise
 * settles. No semantics live here beyond what the low-level API adds over paths:
 *
 * - inode numbers (inodes.ts): lookups count references, forgets drop them;
 * - the page-cache decision libfuse 2's `auto_cache` made: an open keeps the kernel's cached
 *   pages only if the file reports the mtime and size it reported at its previous open (the
 *   mtime moves with the version, see version-clock.ts);
 * - directory listings taken once at opendir, so the offsets of later readdirs are stable;
 * - the kernel's attribute and entry timeouts (mount-options.ts), sent with each reply.
 *
 * A read is answered from the views the file system leases (the read windows' memory), so
 * JavaScript never copies a byte; the addon's reply threads write them, and the lease is
 * released when the addon reports the write done (the next batch's `written` ids). Nothing
 * here may throw into the addon or block: every request is answered exactly once.
 */
import { Errno, errnoFor, errnoNameFor } from './errno.js'
import { InodeTable, type Inode } from './inodes.js'
import type { AttrArray, Fuse3Addon, Fuse3Request, Fuse3Session } from './load-fuse3.js'
import type { FileStat, ReadOnlyFileSystem } from './read-only-fs.js'
import type { ReadLease } from './read-windows.js'

/** d_ino for a directory entry the kernel has not looked up yet (libfuse's own choice). */
const UNKNOWN_INO = 0xffffffff

interface OpenDir {
  names: string[]
  stats: FileStat[]
  /** The directory's own path, to name its children's inodes. */
  path: string
}

export class Fuse3Adapter {
  readonly inodes = new InodeTable()
  private readonly dirs = new Map<number, OpenDir>()
  /** Read replies being written by the addon, by request id: released when written. */
  private readonly writing = new Map<number, ReadLease>()
  private nextDir = 1
  private session: Fuse3Session | undefined
  private readonly addon: Fuse3Addon
  private readonly fs: ReadOnlyFileSystem
  private readonly timeoutS: number
  private readonly onEnded: () => void
  private readonly handlers: Record<number, (r: Fuse3Request & { id: number }, session: Fuse3Session) => void>

  /** `timeoutS`: how long the kernel may reuse attributes, entries and "no such file". */
  constructor(addon: Fuse3Addon, fs: ReadOnlyFileSystem, timeoutS: number, onEnded: () => void) {
    this.addon = addon
    this.fs = fs
    this.timeoutS = timeoutS
    this.onEnded = onEnded
    const ops = addon.ops
    this.handlers = {
      [ops.lookup]: (r, s) => this.lookup(r, s),
      [ops.getattr]: (r, s) => this.withInode(r, s, (inode) => this.fs.getattr(inode.path).then((st) => addon.replyAttr(s, r.id, attr(inode.ino, st), this.timeoutS))),
      [ops.open]: (r, s) => this.open(r, s),
      [ops.read]: (r, s) => this.withInode(r, s, (inode) => this.fs.readViews(inode.path, r.fh ?? 0, r.size ?? 0, r.offset ?? 0).then((lease) => {
        if (addon.replyRead(s, r.id, lease.views)) this.writing.set(r.id, lease)
        else lease.release()
      })),
      [ops.release]: (r, s) => this.withInode(r, s, (inode) => this.fs.release(inode.path, r.fh ?? 0).then(() => addon.replyErr(s, r.id, 0))),
      [ops.opendir]: (r, s) => this.opendir(r, s),
      [ops.readdir]: (r, s) => this.readdir(r, s),
      [ops.releasedir]: (r, s) => {
        this.dirs.delete(r.fh ?? 0)
        addon.replyErr(s, r.id, 0)
      },
      [ops.statfs]: (r, s) => this.answer(r, s, this.fs.statfs('/').then((f) =>
        addon.replyStatfs(s, r.id, [f.bsize, f.frsize, f.blocks, f.bfree, f.bavail, f.files, f.ffree, f.favail, f.fsid, f.flag, f.namemax]))),
      [ops.access]: (r, s) => this.withInode(r, s, (inode) => this.fs.access(inode.path, r.flags ?? 0).then(() => addon.replyErr(s, r.id, 0))),
      [ops.refuse]: (r, s) => this.withInode(r, s, (inode) => this.fs.refuse(r.name ?? 'write', inode.path)),
    }
  }

  /** Binds the adapter to the session the addon returned (requests wait in the addon until then). */
  attach(session: Fuse3Session): void {
    this.session = session
  }

  /** The addon's batch callback: never throws. */
  readonly onBatch = (batch: Fuse3Request[], ended: boolean, written: number[]): void => {
    const session = this.session
    for (const id of written) {
      this.writing.get(id)?.release()
      this.writing.delete(id)
    }
    for (const r of batch) {
      if (r.op === this.addon.ops.forget) {
        this.inodes.forget(r.ino, r.count ?? 0)
        continue
      }
      if (r.id === undefined || session === undefined) continue
      const request = r as Fuse3Request & { id: number }
      try {
        const handler = this.handlers[r.op]
        if (handler === undefined) this.addon.replyErr(session, request.id, -Errno.ENOTSUP)
        else handler(request, session)
      } catch (err) {
        this.fail(request, session, err)
      }
    }
    if (ended) {
      this.onEnded()
      // Closing the session dropped every reply still queued: nothing reads the views now.
      for (const lease of this.writing.values()) lease.release()
      this.writing.clear()
    }
  }

  private lookup(r: Fuse3Request & { id: number }, s: Fuse3Session): void {
    this.withInode(r, s, (parent) => {
      const path = InodeTable.childPath(parent.path, r.name ?? '')
      return this.fs.getattr(path).then(
        (st) => {
          const inode = this.inodes.lookup(path)
          // Not delivered (the caller was interrupted): the kernel holds no reference.
          if (!this.addon.replyEntry(s, r.id, attr(inode.ino, st), this.timeoutS, this.timeoutS)) this.inodes.forget(inode.ino, 1)
        },
        (err: unknown) => {
          // "No such file" as a negative entry the kernel may cache, like libfuse 2's negative_timeout.
          if (errnoNameFor(err) === 'ENOENT') this.addon.replyEntry(s, r.id, null, 0, this.timeoutS)
          else throw err
        },
      )
    })
  }

  private open(r: Fuse3Request & { id: number }, s: Fuse3Session): void {
    this.withInode(r, s, async (inode) => {
      const fd = await this.fs.open(inode.path, r.flags ?? 0)
      let keep = false
      try {
        const st = await this.fs.getattr(inode.path)
        keep = inode.opened !== undefined && inode.opened.mtimeMs === st.mtime && inode.opened.size === st.size
        inode.opened = { mtimeMs: st.mtime, size: st.size }
      } catch {
        // Gone from the listing between open and here: keep nothing cached.
      }
      // Not delivered (the opener was interrupted): no release will come for this handle.
      if (!this.addon.replyOpen(s, r.id, fd, keep)) await this.fs.release(inode.path, fd)
    })
  }

  private opendir(r: Fuse3Request & { id: number }, s: Fuse3Session): void {
    this.withInode(r, s, async (inode) => {
      const { names, stats } = await this.fs.readdir(inode.path)
      const dh = this.nextDir++
      this.dirs.set(dh, { names, stats, path: inode.path })
      if (!this.addon.replyOpen(s, r.id, dh, false)) this.dirs.delete(dh)
    })
  }

  private readdir(r: Fuse3Request & { id: number }, s: Fuse3Session): void {
    const dir = this.dirs.get(r.fh ?? 0)
    if (dir === undefined) {
      this.addon.replyErr(s, r.id, -Errno.EBADF)
      return
    }
    const from = r.offset ?? 0
    const inos: number[] = []
    const modes: number[] = []
    for (let i = 0; i < dir.names.length; i++) {
      // Only entries from `from` on are sent; the rest of the arrays only keep the indexes.
      if (i < from) {
        inos.push(0)
        modes.push(0)
        continue
      }
      const name = dir.names[i]!
      const path = name === '.' ? dir.path : name === '..' ? parentPath(dir.path) : InodeTable.childPath(dir.path, name)
      inos.push(this.inodes.peek(path)?.ino ?? UNKNOWN_INO)
      modes.push(dir.stats[i]!.mode)
    }
    this.addon.replyDir(s, r.id, r.size ?? 0, from, dir.names, inos, modes)
  }

  /** Runs `work` on the request's inode, answering its failure (ENOENT for an unknown inode). */
  private withInode(r: Fuse3Request & { id: number }, s: Fuse3Session, work: (inode: Inode) => Promise<unknown>): void {
    const inode = this.inodes.get(r.ino)
    if (inode === undefined) {
      this.addon.replyErr(s, r.id, -Errno.ENOENT)
      return
    }
    this.answer(r, s, work(inode))
  }

  /** Answers the request with the errno of `work`'s failure (success answers itself). */
  private answer(r: Fuse3Request & { id: number }, s: Fuse3Session, work: Promise<unknown>): void {
    work.catch((err: unknown) => this.fail(r, s, err))
  }

  private fail(r: Fuse3Request & { id: number }, s: Fuse3Session, err: unknown): void {
    this.addon.replyErr(s, r.id, -errnoFor(err))
  }
}

/** A stat as the addon takes it. */
export function attr(ino: number, st: FileStat): AttrArray {
  return [ino, st.mode, st.nlink, st.uid, st.gid, st.size, st.blksize, st.blocks, st.atime, st.mtime, st.ctime]
}

function parentPath(path: string): string {
  const at = path.lastIndexOf('/')
  return at <= 0 ? '/' : path.slice(0, at)
}

