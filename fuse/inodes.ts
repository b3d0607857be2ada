/**
 * Inode numbers for the libfuse 3 binding. libfuse's low-level API names files by inode, the
 * file system by path, so this table maps one to the other, with the kernel's lookup counts:
 * each successful lookup adds one, each FORGET takes some away, and a number is dropped when
 * its count reaches zero (the kernel holds no reference to it any more).
 *
 * Numbers are never reused within a mount, so a late request for a forgotten inode cannot
 * reach another file. Inode 1 is the root and is never forgotten. The last version seen at
 * open lives here too: it decides whether an open may keep the kernel's cached pages.
 */

export interface Inode {
  readonly ino: number
  readonly path: string
  lookups: number
  /** mtime and size reported at the last open; an open that sees the same keeps the page cache. */
  opened?: { mtimeMs: number; size: number }
}

export const ROOT_INO = 1

export class InodeTable {
  private readonly byIno = new Map<number, Inode>()
  private readonly byPath = new Map<string, Inode>()
  private next = ROOT_INO + 1

  constructor() {
    const root: Inode = { ino: ROOT_INO, path: '/', lookups: 1 }
    this.byIno.set(ROOT_INO, root)
    this.byPath.set('/', root)
  }

  get size(): number {
    return this.byIno.size
  }

  get(ino: number): Inode | undefined {
    return this.byIno.get(ino)
  }

  /** The inode of `path` if the kernel knows it (readdir shows it), without counting a lookup. */
  peek(path: string): Inode | undefined {
    return this.byPath.get(path)
  }

  /** Counts one kernel lookup of `path` and returns its inode (a new number the first time). */
  lookup(path: string): Inode {
    let inode = this.byPath.get(path)
    if (inode === undefined) {
      inode = { ino: this.next++, path, lookups: 0 }
      this.byIno.set(inode.ino, inode)
      this.byPath.set(path, inode)
    }
    inode.lookups++
    return inode
  }

  /** The kernel dropped `count` references; the number goes when none are left. */
  forget(ino: number, count: number): void {
    const inode = this.byIno.get(ino)
    if (inode === undefined || ino === ROOT_INO) return
    inode.lookups -= count
    if (inode.lookups > 0) return
    this.byIno.delete(ino)
    if (this.byPath.get(inode.path) === inode) this.byPath.delete(inode.path)
  }

  /** A directory's path joined with a child's name. */
  static childPath(dir: string, name: string): string {
    return dir === '/' ? `/${name}` : `${dir}/${name}`
  }
}
