/**
 * Open files of the mount: the table from the small integer libfuse hands back on every read
 * to the pinned `ObjectHandle` behind it.
 *
 * Numbers start at 1 because fuse-native treats 0 as "no handle". They are reused only after
 * the counter wraps, so a late read on a released number cannot reach another file.
 */
import type { ObjectHandle } from '../lib/index.js'

export interface OpenFile {
  readonly path: string
  readonly handle: ObjectHandle
}

const MAX_FD = 0x7fffffff

export class HandleTable {
  private readonly files = new Map<number, OpenFile>()
  private next = 1

  get size(): number {
    return this.files.size
  }

  add(file: OpenFile): number {
    while (this.files.has(this.next)) this.next = this.next >= MAX_FD ? 1 : this.next + 1
    const fd = this.next
    this.next = fd >= MAX_FD ? 1 : fd + 1
    this.files.set(fd, file)
    return fd
  }

  get(fd: number): OpenFile | undefined {
    return this.files.get(fd)
  }

  remove(fd: number): OpenFile | undefined {
    const file = this.files.get(fd)
    this.files.delete(fd)
    return file
  }

  /** Removes and returns every open file (used when unmounting). */
  drain(): OpenFile[] {
    const all = [...this.files.values()]
    this.files.clear()
    return all
  }
}
