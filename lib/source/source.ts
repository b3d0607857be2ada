/**
 * The seam between the cache and the places bytes live. A `Source` knows one URL scheme and
 * three verbs; everything above it (retries, caching, prefetch) is scheme-agnostic.
 *
 * `readRange` is pinned: it returns exactly `end - start` bytes of `info.version` or rejects
 * (ObjectChangedError when the version moved, ShortReadError when a body was cut short), so
 * a cache filled from it can never mix two versions of one object.
 */
import { InvalidUrlError } from '../errors.js'
import type { ObjectInfo } from '../types.js'

export interface RangeReadOptions {
  signal?: AbortSignal
  /**
   * `readBlocks` only, optional for a source: called as the body arrives with the buffers
   * being filled for `[start, end)` and how many bytes from `start` are final, so a reader can
   * use the front of a block before the rest of it lands.
   */
  onProgress?: BlockProgress
}

/** Progress of one response: `blocks` cover the range from `start`; its first `filled` bytes are final. */
export type BlockProgress = (start: number, blocks: readonly Uint8Array[], filled: number) => void

export interface Source {
  /** URL schemes this source serves, without the colon (`s3`, `file`, ...). */
  readonly schemes: readonly string[]
  stat(url: string, options?: RangeReadOptions): Promise<ObjectInfo>
  /** Bytes `[start, end)` of exactly `info.version`; `end` is clamped to `info.size`. */
  readRange(info: ObjectInfo, start: number, end: number, options?: RangeReadOptions): Promise<Uint8Array>
  /**
   * Optional: the same bytes as `readRange`, delivered as consecutive `blockSize` buffers (the
   * last may be shorter) filled straight from the response. Sources without it are split by
   * the caller.
   */
  readBlocks?(info: ObjectInfo, start: number, end: number, blockSize: number, options?: RangeReadOptions): Promise<Uint8Array[]>
  /** Every object whose URL starts with `prefix`, all pages, sorted by URL. */
  list(prefix: string, options?: RangeReadOptions): Promise<ObjectInfo[]>
  close?(): Promise<void>
}

/** Checks arguments common to every readRange and returns the clamped end. */
export function clampRange(info: ObjectInfo, start: number, end: number): number {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`readRange: start must be a non-negative integer, got ${start}`)
  if (!Number.isSafeInteger(end) || end < start) throw new RangeError(`readRange: end must be an integer >= start, got ${end}`)
  return Math.min(end, info.size)
}

/**
 * Refuses `scheme://user:password@host/...` before any request. No built-in source sends URL
 * credentials (fetch refuses them, S3 signs with its own), and a URL is an object's name: it is
 * kept in the cache's catalogue, in stats and in log lines, where a password must not be.
 */
export function refuseUrlCredentials(url: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) {
    throw new InvalidUrlError(
      url,
      'credentials in a URL (user:password@) are not accepted: sluice would keep them with the URL in its cache and logs; ' +
        'give S3 credentials through the AWS credential chain, or use a presigned URL',
    )
  }
}
