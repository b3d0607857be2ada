/**
 * The one table that turns sluice failures into the errno a FUSE operation answers with.
 *
 * The file system is a view, so the kernel only ever hears a handful of answers: the object
 * is not there (ENOENT), it changed underneath an open file (ESTALE, so the reader knows to
 * reopen rather than trust a mix of versions), anything that would write (EROFS), and
 * everything else, source or cache trouble alike, as EIO. Numbers are Linux's, negated the
 * way fuse-native expects them.
 */

/** Linux errno values used by the mount, negated (fuse-native's convention). */
export const Errno = {
  EPERM: -1,
  ENOENT: -2,
  EIO: -5,
  EBADF: -9,
  EACCES: -13,
  ENOTDIR: -20,
  EISDIR: -21,
  EINVAL: -22,
  EROFS: -30,
  ENODATA: -61,
  ENOTSUP: -95,
  ESTALE: -116,
} as const

export type ErrnoName = keyof typeof Errno

/** Error code (`ERR_SLUICE_…`) → errno name. Codes not listed answer EIO. */
export const ERRNO_BY_CODE: Readonly<Record<string, ErrnoName>> = {
  ERR_SLUICE_NOT_FOUND: 'ENOENT',
  ERR_SLUICE_BUCKET_NOT_FOUND: 'ENOENT',
  ERR_SLUICE_OBJECT_CHANGED: 'ESTALE',
}

/**
 * The one error a file-system operation fails with: the errno the kernel gets, and as `cause`
 * the sluice error behind it, if any. Raised on purpose (EROFS, EISDIR, ...) or by `toFuseError`.
 */
export class FuseOperationError extends Error {
  readonly errno: ErrnoName
  constructor(errno: ErrnoName, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FuseOperationError'
    this.errno = errno
  }
}

/** The errno name for any failure: our own operation errors, then the code table, else EIO. */
export function errnoNameFor(err: unknown): ErrnoName {
  if (err instanceof FuseOperationError) return err.errno
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return ERRNO_BY_CODE[code] ?? 'EIO'
  return 'EIO'
}

/** Any failure as a FuseOperationError (itself when it already is one). */
export function toFuseError(err: unknown): FuseOperationError {
  if (err instanceof FuseOperationError) return err
  return new FuseOperationError(errnoNameFor(err), (err as Error | null)?.message ?? String(err), { cause: err })
}

/** The negated errno number a FUSE binding answers with (libfuse's and fuse-native's convention). */
export function errnoFor(err: unknown): number {
  return Errno[errnoNameFor(err)]
}
