/**
 * Safety checks for the disk tier's directory, run before LMDB opens it. The cache holds
 * copies of private training data and is trusted on every read (blocks are verified against
 * checksums that live in the same files), so another local user must not be able to read,
 * replace or redirect it:
 *
 * - a missing directory is created owner-only (0700), parents included;
 * - a symlink is followed only if it is owned by the current user or by root, since whoever
 *   owns a symlink can point it elsewhere at any time;
 * - the directory (after following the link) must be owned by the current user or root and
 *   must not be writable by group or others: anyone who can write there can swap `data.mdb`.
 *
 * Refusals are CacheErrors (ERR_SLUICE_CACHE) that say what is wrong and how to fix it. Checks
 * that need a uid are skipped where the platform has none (Windows).
 */
import { chmodSync, lstatSync, mkdirSync, statSync, type Stats } from 'node:fs'
import { CacheError } from '../errors.js'

function refuse(path: string, why: string, fix: string): CacheError {
  return new CacheError('disk', `refusing cache directory ${path}: ${why}; ${fix}`)
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0')

/** Creates `path` owner-only if missing, else checks it is safe to use; throws CacheError if not. */
export function prepareCacheDir(path: string): void {
  const uid = process.getuid?.()
  let link: Stats | undefined
  try {
    link = lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CacheError('disk', `cannot inspect cache directory ${path}: ${(err as Error).message}`, err)
  }
  if (link === undefined) {
    mkdirSync(path, { recursive: true, mode: 0o700 })
    chmodSync(path, 0o700) // mkdir's mode is masked by the umask; never wider than 0700 either way
    return
  }
  if (link.isSymbolicLink() && uid !== undefined && link.uid !== uid && link.uid !== 0) {
    throw refuse(path, `it is a symlink owned by another user (uid ${link.uid}), who could point it anywhere`, 'use a real directory or a link you own')
  }
  let target: Stats
  try {
    target = link.isSymbolicLink() ? statSync(path) : link
  } catch (err) {
    throw new CacheError('disk', `cache directory ${path} is a dangling symlink: ${(err as Error).message}`, err)
  }
  if (!target.isDirectory()) throw refuse(path, 'it exists and is not a directory', 'choose a directory path')
  if (uid !== undefined && target.uid !== uid && target.uid !== 0) {
    throw refuse(path, `it is owned by another user (uid ${target.uid}, you are ${uid})`, 'use a directory you own')
  }
  if ((target.mode & 0o022) !== 0) {
    throw refuse(path, `it is writable by other users (mode ${octal(target.mode)}), who could replace the cached data`, `run chmod 700 ${path} or choose another directory`)
  }
}
