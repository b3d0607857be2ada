/**
 * The fuse-native binding of ReadOnlyFileSystem: the callback table fuse-native calls, each
 * entry forwarding to the file system and answering its result or its errno. No semantics
 * live here (read-only-fs.ts owns them), so another binding is another table like this one.
 *
 * fuse-native's convention: `cb(0, ...values)` on success, `cb(-errno)` on failure, and for
 * `read` the byte count itself. A callback must be called exactly once and nothing may throw
 * into fuse-native: each request holds a libfuse thread until JavaScript answers it.
 */
import { errnoFor } from './errno.js'
import type { ReadOnlyFileSystem } from './read-only-fs.js'

type Callback = (result: number, ...values: unknown[]) => void
export type FuseOperations = Record<string, (...args: any[]) => void>

/** Everything that would change the tree; fuse-native passes the callback last. */
const REFUSED = [
  'create', 'write', 'truncate', 'ftruncate', 'unlink', 'rename', 'mkdir', 'rmdir', 'symlink',
  'link', 'chmod', 'chown', 'utimens', 'mknod', 'setxattr', 'removexattr',
] as const

/** Answers `cb(0, value)`, or `cb(0)` for no value, or `cb(-errno)`. */
function answer<T>(work: Promise<T>, cb: Callback): void {
  work.then(
    (value) => (value === undefined ? cb(0) : cb(0, value)),
    (err) => cb(errnoFor(err)),
  )
}

export function createOperations(fs: ReadOnlyFileSystem): FuseOperations {
  const ops: FuseOperations = {
    init(cb: Callback) {
      cb(0)
    },
    getattr(path: string, cb: Callback) {
      answer(fs.getattr(path), cb)
    },
    access(path: string, mode: number, cb: Callback) {
      answer(fs.access(path, mode), cb)
    },
    readdir(path: string, cb: Callback) {
      fs.readdir(path).then(
        ({ names, stats }) => cb(0, names, stats),
        (err) => cb(errnoFor(err)),
      )
    },
    open(path: string, flags: number, cb: Callback) {
      answer(fs.open(path, flags), cb)
    },
    read(path: string, fd: number, buffer: Buffer, length: number, position: number, cb: Callback) {
      fs.read(path, fd, buffer, length, position).then(cb, (err) => cb(errnoFor(err)))
    },
    release(path: string, fd: number, cb: Callback) {
      answer(fs.release(path, fd), cb)
    },
    statfs(path: string, cb: Callback) {
      answer(fs.statfs(path), cb)
    },
  }
  for (const op of REFUSED) {
    ops[op] = (...args: unknown[]) => {
      answer(fs.refuse(op, typeof args[0] === 'string' ? args[0] : ''), args[args.length - 1] as Callback)
    }
  }
  return ops
}
