/**
 * Drains one HTTP response body into exactly-sized buffers: one copy per byte, no
 * intermediate concatenation. With a block size, the body is written straight into one
 * buffer per block, so the cache gets its blocks without a second copy (and each block owns
 * its memory, which keeps the memory tier's accounting exact; the disk tier's header room
 * in front of it is block-buffer.ts's). Shared by the S3 and HTTP sources.
 *
 * `skip` discards a prefix, for stores that ignored the Range header and sent the whole
 * object. `onProgress` hears after every chunk how far the blocks are filled. A body that
 * ends early, or whose connection is cut after some bytes arrived, is a ShortReadError
 * carrying the complete blocks (and, for a single buffer, the partial bytes), so the retry
 * layer asks only for the remainder.
 */
import { allocBlock } from '../block-buffer.js'
import { ShortReadError } from '../errors.js'
import type { BlockProgress } from './source.js'

export async function readBodyBlocks(
  body: AsyncIterable<Uint8Array>,
  cancel: () => void,
  url: string,
  start: number,
  length: number,
  blockSize: number,
  skip: number,
  signal?: AbortSignal,
  onProgress?: BlockProgress,
): Promise<Uint8Array[]> {
  const blocks: Buffer[] = []
  for (let o = 0; o < length; o += blockSize) blocks.push(allocBlock(Math.min(blockSize, length - o)))
  let filled = 0
  let block = 0
  let inBlock = 0
  let toSkip = skip
  const onAbort = () => cancel()
  signal?.addEventListener('abort', onAbort, { once: true })
  // A connection cut mid-body (a reset, a socket closed before Content-Length) surfaces as a
  // stream error, not as an early end: it is the same short read, and what arrived is kept.
  let cut: unknown
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
      while (c.length > 0 && filled < length) {
        const target = blocks[block]!
        const n = Math.min(c.length, target.length - inBlock)
        target.set(n === c.length ? c : c.subarray(0, n), inBlock)
        inBlock += n
        filled += n
        c = c.subarray(n)
        if (inBlock === target.length) {
          block++
          inBlock = 0
        }
      }
      onProgress?.(start, blocks, filled)
      if (filled === length) break
    }
  } catch (err) {
    if (signal?.aborted || filled === 0) throw err
    cut = err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    cancel()
  }
  signal?.throwIfAborted()
  if (filled < length) {
    const complete = blocks.slice(0, block)
    const partial = blocks.length === 1 ? blocks[0]!.subarray(0, filled) : undefined
    throw new ShortReadError(url, start, length, filled, partial, complete, cut)
  }
  return blocks
}

/** The whole range as one buffer. */
export async function readBody(
  body: AsyncIterable<Uint8Array>,
  cancel: () => void,
  url: string,
  start: number,
  length: number,
  skip: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (length === 0) {
    cancel()
    return new Uint8Array(0)
  }
  const [only] = await readBodyBlocks(body, cancel, url, start, length, length, skip, signal)
  return only!
}
