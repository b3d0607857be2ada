/**
 * Checks that a ranged response carries exactly the bytes asked for, before any byte is
 * cached. Stores differ: some ignore `Range` and answer 200 with the whole object (sometimes
 * chunked, with no length), some answer 206 for a different range. Only two answers are
 * accepted: a Content-Range starting at `start` and covering `[start, end)` of an object of the pinned size, or
 * a whole-object answer whose length is the pinned size (its prefix is then skipped).
 * Anything else is a retryable SourceError, never bytes from the wrong offset.
 */
import { ObjectChangedError, SourceError } from '../errors.js'
import type { ObjectInfo } from '../types.js'

/** Bytes to skip at the front of the body. */
export function checkResponseRange(
  info: ObjectInfo,
  start: number,
  end: number,
  contentRange: string | undefined | null,
  contentLength: number | undefined | null,
): number {
  if (contentRange) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim())
    if (!m) throw new SourceError(info.url, `unparseable Content-Range ${JSON.stringify(contentRange)}`)
    const total = m[3] === '*' ? undefined : Number(m[3])
    if (total !== undefined && total !== info.size) {
      throw new ObjectChangedError(info.url, info.version, `size ${total} (pinned size ${info.size})`)
    }
    // A longer answer from the right offset is fine (s3rver answers bytes=0-0 with the whole
    // object): the body is read only as far as asked.
    if (Number(m[1]) !== start || Number(m[2]) < end - 1) {
      throw new SourceError(info.url, `asked for bytes ${start}-${end - 1}, the store sent ${m[1]}-${m[2]}`)
    }
    return 0
  }
  if (contentLength === info.size) return start
  if (start === 0 && end === info.size && (contentLength === undefined || contentLength === null)) return 0
  throw new SourceError(
    info.url,
    `the store ignored the byte range ${start}-${end - 1} and sent ${contentLength ?? 'an unknown number of'} bytes without Content-Range`,
  )
}
