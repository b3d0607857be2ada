/**
 * Parsing and normalising object URLs, once, so every layer agrees on what a URL means.
 *
 * A plain absolute path is accepted as shorthand for `file://`; S3 URLs are split into bucket
 * and key. Canonical forms are what cache keys hash, so `/data/a` and `file:///data/a` share
 * cached blocks.
 */
import { pathToFileURL, fileURLToPath } from 'node:url'
import { InvalidUrlError } from './errors.js'

/** The scheme of a URL without its colon; plain absolute paths are `file`. */
export function schemeOf(url: string): string {
  if (url.startsWith('/')) return 'file'
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)
  if (!m) throw new InvalidUrlError(url, 'expected scheme://… or an absolute path')
  return m[1]!.toLowerCase()
}

export interface S3Location {
  bucket: string
  key: string
}

export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(url)
  if (!m) throw new InvalidUrlError(url, 'expected s3://bucket/key')
  const bucket = m[1]!
  if (!/^[a-zA-Z0-9._-]{1,255}$/.test(bucket)) throw new InvalidUrlError(url, `invalid bucket name "${bucket}"`)
  return { bucket, key: m[2]! }
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`
}

/** Absolute file path of a `file://` URL or plain absolute path. */
export function filePathOf(url: string): string {
  if (url.startsWith('/')) return url
  try {
    return fileURLToPath(url)
  } catch (err) {
    throw new InvalidUrlError(url, (err as Error).message)
  }
}

/** Canonical URL: absolute paths become file:// URLs; others are returned unchanged. */
export function canonicalUrl(url: string): string {
  if (url.startsWith('/')) return pathToFileURL(url).href
  return url
}
