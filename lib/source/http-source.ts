/**
 * Plain `http(s)://` objects through Node's built-in fetch: HEAD for stat, GET with `Range`
 * and `If-Match` for reads. Useful for public datasets behind a CDN.
 *
 * HTTP has no listing, so `list` is an UnsupportedOperationError. As with S3, the response's
 * ETag and length are checked rather than trusted. TLS verification is Node's default (on).
 */
import {
  AccessDeniedError,
  NotFoundError,
  ObjectChangedError,
  SourceError,
  SourceUnreachableError,
  UnsupportedOperationError,
  isSluiceError,
} from '../errors.js'
import type { ObjectInfo } from '../types.js'
import { readBody } from './read-body.js'
import { clampRange, type RangeReadOptions, type Source } from './source.js'

function statusError(url: string, status: number, version?: string): Error {
  if (status === 404 || status === 410) return new NotFoundError(url)
  if (status === 401 || status === 403) return new AccessDeniedError(url, `HTTP ${status}`)
  if (status === 412) return new ObjectChangedError(url, version ?? '')
  return new SourceError(url, `HTTP ${status}`, { status })
}

function networkError(err: unknown, url: string): unknown {
  if (isSluiceError(err) || (err as Error)?.name === 'AbortError') return err
  const code = (err as { cause?: { code?: string } })?.cause?.code
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SourceUnreachableError(url, 1, err)
  return new SourceError(url, code ?? (err as Error)?.message ?? 'network error', { cause: err })
}

export class HttpSource implements Source {
  readonly schemes = ['http', 'https'] as const

  async stat(url: string, options: RangeReadOptions = {}): Promise<ObjectInfo> {
    let res: Response
    try {
      res = await fetch(url, { method: 'HEAD', ...(options.signal ? { signal: options.signal } : {}) })
    } catch (err) {
      throw networkError(err, url)
    }
    if (!res.ok) throw statusError(url, res.status)
    const size = Number(res.headers.get('content-length') ?? NaN)
    if (!Number.isSafeInteger(size)) throw new SourceError(url, 'response has no Content-Length; cannot read by range')
    const modified = res.headers.get('last-modified')
    return {
      url,
      size,
      version: res.headers.get('etag') ?? `${size}-${modified ?? ''}`,
      ...(modified ? { mtimeMs: Date.parse(modified) } : {}),
    }
  }

  async readRange(info: ObjectInfo, start: number, end: number, options: RangeReadOptions = {}): Promise<Uint8Array> {
    end = clampRange(info, start, end)
    if (end === start) return new Uint8Array(0)
    const length = end - start
    const strongEtag = info.version.startsWith('"') || info.version.startsWith('W/')
    let res: Response
    try {
      res = await fetch(info.url, {
        headers: { range: `bytes=${start}-${end - 1}`, ...(strongEtag ? { 'if-match': info.version } : {}) },
        ...(options.signal ? { signal: options.signal } : {}),
      })
    } catch (err) {
      throw networkError(err, info.url)
    }
    if (res.status !== 206 && res.status !== 200) {
      await res.body?.cancel()
      throw statusError(info.url, res.status, info.version)
    }
    const etag = res.headers.get('etag')
    if (strongEtag && etag !== null && etag !== info.version) {
      await res.body?.cancel()
      throw new ObjectChangedError(info.url, info.version, etag)
    }
    const body = res.body
    if (!body) throw new SourceError(info.url, 'response has no body')
    try {
      return await readBody(body, () => void body.cancel().catch(() => {}), info.url, start, length, res.status === 200 ? start : 0, options.signal)
    } catch (err) {
      throw networkError(err, info.url)
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    throw new UnsupportedOperationError('listing', prefix)
  }
}
