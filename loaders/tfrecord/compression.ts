/**
 * Compression of whole TFRecord files: none, GZIP or ZLIB (TensorFlow's `compression_type`),
 * and `auto`, which sniffs the first bytes.
 *
 * Sniffing trusts content before names: a first header whose length CRC holds means an
 * uncompressed file (a chance match is 1 in 2^32); otherwise the gzip magic `1f 8b` or a valid
 * zlib header (CMF/FLG with the FCHECK rule) decide; the suffix (`.gz`, `.gzip`, `.zz`, `.zlib`)
 * decides only when the object is too short to tell. Real data sets contain `.gz` files that are
 * not compressed and compressed files with no suffix, so names alone get it wrong.
 *
 * Inflation streams through `node:zlib`, so a multi-GB compressed shard never sits in memory.
 * Node's gunzip continues across concatenated members (multi-member gzip, as written by
 * `cat a.gz b.gz` or parallel compressors) and skips optional header fields such as a stored
 * file name. Output chunks are freshly allocated slices that zlib never writes again, so
 * records framed from them may be views, like records framed from cache blocks.
 */
import { Readable } from 'node:stream'
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib'
import { crc32c, maskCrc } from './crc.js'

export type Compression = 'none' | 'gzip' | 'zlib'
export type CompressionOption = Compression | 'auto'

export const COMPRESSION_OPTIONS: readonly CompressionOption[] = ['none', 'gzip', 'zlib', 'auto']

/** Bytes {@link sniffCompression} wants to see. */
export const SNIFF_BYTES = 12

/** Compression implied by a URL's suffix, or undefined. */
export function compressionFromName(url: string): Compression | undefined {
  const path = url.replace(/[?#].*$/, '').toLowerCase()
  if (path.endsWith('.gz') || path.endsWith('.gzip')) return 'gzip'
  if (path.endsWith('.zz') || path.endsWith('.zlib') || path.endsWith('.deflate')) return 'zlib'
  return undefined
}

/** Decides the compression of an object from its first bytes (at least 12 when it has them) and its URL. */
export function sniffCompression(first: Uint8Array, url: string): Compression {
  if (first.length >= SNIFF_BYTES) {
    const view = new DataView(first.buffer, first.byteOffset, SNIFF_BYTES)
    if (maskCrc(crc32c(first.subarray(0, 8))) === view.getUint32(8, true)) return 'none'
  }
  if (first.length >= 3 && first[0] === 0x1f && first[1] === 0x8b && first[2] === 8) return 'gzip'
  if (first.length >= 2) {
    const cmf = first[0]!
    const flg = first[1]!
    if ((cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0) return 'zlib'
  }
  if (first.length >= SNIFF_BYTES) return 'none' // not compressed; the framer will report what is wrong
  return compressionFromName(url) ?? 'none'
}

/** Output chunk size of the inflater: large, so that most records are views of one chunk. */
const INFLATE_CHUNK_BYTES = 1024 * 1024

/** An inflate failure, with whether it was the input ending early. */
export class InflateError extends Error {
  constructor(readonly truncated: boolean, cause: unknown) {
    super(truncated ? 'compressed stream ends early' : `cannot inflate: ${(cause as Error)?.message ?? cause}`, { cause })
  }
}

/** Streams the inflated bytes of `chunks`. Failures surface as {@link InflateError}. */
export async function* inflate(chunks: AsyncIterable<Uint8Array>, compression: 'gzip' | 'zlib'): AsyncGenerator<Uint8Array> {
  const z: Gunzip | Inflate =
    compression === 'gzip' ? createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }) : createInflate({ chunkSize: INFLATE_CHUNK_BYTES })
  const source = Readable.from(chunks, { objectMode: false, highWaterMark: 1 })
  let sourceError: unknown
  source.on('error', (err) => {
    sourceError = err
    z.destroy(err)
  })
  source.pipe(z)
  try {
    for await (const out of z) yield out as Uint8Array
  } catch (err) {
    if (sourceError !== undefined) throw sourceError
    const code = (err as { code?: string }).code
    throw new InflateError(code === 'Z_BUF_ERROR' || /unexpected end/i.test(String((err as Error).message)), err)
  } finally {
    source.destroy()
    z.destroy()
  }
}
