/**
 * Local files (`file:///abs/path` or a plain absolute path) as a source: useful for NFS or
 * a local staging disk, and as the local-limit baseline in benchmarks.
 *
 * The version is size, mtime and inode: a rewrite in place changes mtime, a replace by rename
 * changes the inode. Every read re-checks the open file's identity so a handle never returns
 * bytes of a different version.
 */
import { open, readdir, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { NotFoundError, ObjectChangedError, ShortReadError, SourceError, AccessDeniedError, isSluiceError } from '../errors.js'
import type { ObjectInfo } from '../types.js'
import { canonicalUrl, filePathOf } from '../url.js'
import { clampRange, type RangeReadOptions, type Source } from './source.js'

function versionOf(st: Stats): string {
  return `${st.size}-${Math.trunc(st.mtimeMs * 1000)}-${st.ino}`
}

function infoOf(url: string, st: Stats): ObjectInfo {
  return { url, size: st.size, version: versionOf(st), mtimeMs: st.mtimeMs }
}

function translate(err: unknown, url: string): unknown {
  if (isSluiceError(err)) return err
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(url, err)
  if (code === 'EACCES' || code === 'EPERM') return new AccessDeniedError(url, code, err)
  if (code !== undefined && code.startsWith('E')) return new SourceError(url, code, { cause: err })
  return err
}

export class FileSource implements Source {
  readonly schemes = ['file'] as const

  async stat(url: string): Promise<ObjectInfo> {
    const canonical = canonicalUrl(url)
    try {
      const st = await stat(filePathOf(url))
      if (!st.isFile()) throw new NotFoundError(canonical)
      return infoOf(canonical, st)
    } catch (err) {
      throw translate(err, canonical)
    }
  }

  async readRange(info: ObjectInfo, start: number, end: number, _options: RangeReadOptions = {}): Promise<Uint8Array> {
    end = clampRange(info, start, end)
    const length = end - start
    let fh
    try {
      fh = await open(filePathOf(info.url), 'r')
    } catch (err) {
      throw translate(err, info.url)
    }
    try {
      const st = await fh.stat()
      const now = versionOf(st)
      if (now !== info.version) throw new ObjectChangedError(info.url, info.version, now)
      const out = Buffer.allocUnsafe(length)
      let filled = 0
      while (filled < length) {
        const { bytesRead } = await fh.read(out, filled, length - filled, start + filled)
        if (bytesRead === 0) throw new ShortReadError(info.url, start, length, filled, out.subarray(0, filled))
        filled += bytesRead
      }
      // A rewrite in place during the read would mix versions under the old one's key.
      const after = versionOf(await fh.stat())
      if (after !== info.version) throw new ObjectChangedError(info.url, info.version, after)
      return out
    } catch (err) {
      throw translate(err, info.url)
    } finally {
      await fh.close()
    }
  }

  /** Files below a directory prefix (`file:///data/train/`) or whose path starts with the prefix. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const path = filePathOf(prefix)
    const dir = path.endsWith('/') ? path.slice(0, -1) || '/' : path.slice(0, path.lastIndexOf('/')) || '/'
    const out: ObjectInfo[] = []
    const walk = async (d: string): Promise<void> => {
      let entries
      try {
        entries = await readdir(d, { withFileTypes: true })
      } catch (err) {
        if (d === dir) throw translate(err, prefix)
        return
      }
      for (const e of entries) {
        const full = join(d, e.name)
        if (e.isDirectory()) {
          if ((full + '/').startsWith(path) || path.startsWith(full + '/')) await walk(full)
        } else if (e.isFile() && full.startsWith(path)) {
          out.push(infoOf(pathToFileURL(full).href, await stat(full)))
        }
      }
    }
    await walk(dir)
    return out.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
  }
}
