/**
 * Drains one HTTP response body into a single exactly-sized buffer: one copy per byte, no
 * intermediate concatenation. Shared by the S3 and HTTP sources.
 *
 * `skip` discards a prefix, for stores that ignored the Range header and sent the whole
 * object. A body that ends early is a ShortReadError carrying what did arrive, so the retry
 * layer can ask for only the remainder.
 */
import { ShortReadError } from '../errors.js'

export async function readBody(
  body: AsyncIterable<Uint8Array>,
  cancel: () => void,
  url: string,
  start: number,
  length: number,
  skip: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const out = Buffer.allocUnsafe(length)
  let filled = 0
  let toSkip = skip
  const onAbort = () => cancel()
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of body) {
      let c = chunk
      if (toSkip > 0) {
        if (c.length <= toSkip) {
          toSkip -= c.length
          continue
        }
        c = c.subarray(toSkip)
        toSkip = 0
      }
      const n = Math.min(c.length, length - filled)
      out.set(n === c.length ? c : c.subarray(0, n), filled)
      filled += n
      if (filled === length) break
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    cancel()
  }
  signal?.throwIfAborted()
  if (filled < length) throw new ShortReadError(url, start, length, filled, out.subarray(0, filled))
  return out
}
