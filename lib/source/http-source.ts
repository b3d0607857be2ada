/**
 * Plain `http(s)://` objects through Node's built-in fetch: HEAD for stat, GET with `Range`
 * and `If-Match` for reads. Useful for public datasets behind a CDN.
 *
 * HTTP has no listing, so `list` is an UnsupportedOperationError. As with S3, the response's
 * ETag and length are checked rather than trusted. TLS verification is Node's default (on).
 *
 * Redirects are followed here, not by fetch, so that they can be checked: at most
 * MAX_REDIRECTS hops, and never to another scheme (an https object must not be silently read
 * over plain http, where anyone on the path can change the bytes and the ETag with them; nor
 * an http one from https, which is a sign of a misconfigured origin). A refused redirect is a
 * SourceError naming both URLs. A URL with credentials (`user:password@`) is refused before
 * any request (source.ts says why).
 */
import {
  AccessDeniedError,
  NotFoundError,
  ObjectChangedError,
  SourceError,
  SourceUnreachableError,
  UnsupportedOperationError,
  isSluiceError,
  redactUrl,
} from '../errors.js'
import type { ObjectInfo } from '../types.js'
import { readBody } from './read-body.js'
import { checkResponseRange } from './response-range.js'
import { clampRange, refuseUrlCredentials, type RangeReadOptions, type Source } from './source.js'

/** Redirect hops followed per request before giving up. */
export const MAX_REDIRECTS = 5

/** fetch with redirects followed by hand: same scheme only, bounded hops. */
async function fetchFollowing(url: string, init: RequestInit): Promise<Response> {
  let current = url
  const scheme = new URL(url).protocol
  for (let hop = 0; ; hop++) {
    const res = await fetch(current, { ...init, redirect: 'manual' })
    if (res.status < 300 || res.status > 399 || res.status === 304) return res
    const location = res.headers.get('location')
    await res.body?.cancel().catch(() => {})
    if (location === null) throw new SourceError(url, `HTTP ${res.status} redirect without a Location header`, { status: res.status })
    let next: URL
    try {
      next = new URL(location, current)
    } catch {
      throw new SourceError(url, `HTTP ${res.status} redirect to an invalid URL ${JSON.stringify(redactUrl(location))}`, { status: res.status })
    }
    if (next.protocol !== scheme) {
      throw new SourceError(url, `refusing redirect from ${redactUrl(current)} to ${redactUrl(next.href)}: redirects never change the scheme (${scheme} to ${next.protocol})`, { status: res.status })
    }
    if (hop + 1 > MAX_REDIRECTS) throw new SourceError(url, `more than ${MAX_REDIRECTS} redirects (last to ${redactUrl(next.href)})`, { status: res.status })
    current = next.href
  }
}

function statusError(url: string, status: number, version?: string): Error {
  if (status === 404 || status === 410) return new NotFoundError(url)
  if (status === 401 || status === 403) return new AccessDeniedError(url, `HTTP ${status}`)
  if (status === 412) return new ObjectChangedError(url, version ?? '')
  return new SourceError(url, `HTTP ${status}`, { status })
}

/** An entity tag without its weakness marker, for weak comparison. */
function weakTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
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
    refuseUrlCredentials(url)
    let res: Response
    try {
      res = await fetchFollowing(url, { method: 'HEAD', ...(options.signal ? { signal: options.signal } : {}) })
    } catch (err) {
      throw networkError(err, url)
    }
    if (!res.ok) throw statusError(url, res.status)
    const length = res.headers.get('content-length')?.trim()
    const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : NaN
    if (!Number.isSafeInteger(size)) throw new SourceError(url, 'response has no valid Content-Length; cannot read by range')
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
    refuseUrlCredentials(info.url)
    const length = end - start
    const version = info.version
    // If-Match compares strongly: send it only for strong ETags; weak ones are compared here.
    const isEtag = version.startsWith('"') || version.startsWith('W/')
    const strongEtag = version.startsWith('"')
    let res: Response
    try {
      res = await fetchFollowing(info.url, {
        headers: { range: `bytes=${start}-${end - 1}`, ...(strongEtag ? { 'if-match': version } : {}) },
        ...(options.signal ? { signal: options.signal } : {}),
      })
    } catch (err) {
      throw networkError(err, info.url)
    }
    const refuse = async (err: Error): Promise<never> => {
      await res.body?.cancel().catch(() => {})
      throw err
    }
    if (res.status !== 206 && res.status !== 200) return refuse(statusError(info.url, res.status, version))
    const etag = res.headers.get('etag')
    if (isEtag) {
      if (etag !== null && weakTag(etag) !== weakTag(version)) return refuse(new ObjectChangedError(info.url, version, etag))
    } else {
      // No ETag: the version is size and Last-Modified; check what the response says of both.
      const modified = res.headers.get('last-modified')
      if (etag !== null || (modified !== null && version !== `${info.size}-${modified}`)) {
        return refuse(new ObjectChangedError(info.url, version, etag ?? `${info.size}-${modified}`))
      }
    }
    let skip: number
    try {
      const lengthHeader = res.headers.get('content-length')
      skip = checkResponseRange(info, start, end, res.headers.get('content-range'), lengthHeader === null ? undefined : Number(lengthHeader))
    } catch (err) {
      return refuse(err as Error)
    }
    const body = res.body
    if (!body) throw new SourceError(info.url, 'response has no body')
    try {
      return await readBody(body, () => void body.cancel().catch(() => {}), info.url, start, length, skip, options.signal)
    } catch (err) {
      throw networkError(err, info.url)
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    throw new UnsupportedOperationError('listing', prefix)
  }
}
