/**
 * Reads the records of one shard: open handle in, batches of framed records out.
 *
 * This is where the byte stream meets the framer. Uncompressed shards stream the handle's
 * block-aligned chunks straight into the framer (and can start at any record boundary, which
 * is how record-range sharding reads only its part of a file); compressed shards go through
 * the streaming inflater first and always start at byte 0. Batches are one per chunk, so the
 * async cost is per chunk; records inside are views wherever the framer could make them.
 */
import type { ObjectHandle } from '../../lib/index.js'
import { inflate, InflateError, SNIFF_BYTES, sniffCompression, type Compression, type CompressionOption } from './compression.js'
import { RecordFramer, type FramerOptions, type RecordSink } from './framing.js'

export interface ShardReadOptions {
  verify: boolean
  maxRecordBytes: number
  onCorrupt: 'error' | 'skip'
  compression: CompressionOption
  onSkip?: FramerOptions['onSkip']
  signal?: AbortSignal | undefined
}

/** Uncompressed byte range to read: `[start, end)` must begin and end on record boundaries. */
export interface ByteRange {
  start: number
  end: number
}

export async function resolveCompression(handle: ObjectHandle, option: CompressionOption): Promise<Compression> {
  if (option !== 'auto') return option
  if (handle.size === 0) return 'none'
  const first = await handle.read(0, Math.min(SNIFF_BYTES, handle.size))
  return sniffCompression(first, handle.url)
}

/**
 * Yields batches of records of `handle`. `range` is honoured only for uncompressed shards
 * (compressed ones cannot seek); callers filter by record number there.
 */
export async function* readShard(
  handle: ObjectHandle,
  options: ShardReadOptions,
  compression: Compression,
  range?: ByteRange,
): AsyncGenerator<RecordSink> {
  const framer = new RecordFramer({
    url: handle.url,
    verify: options.verify,
    maxRecordBytes: options.maxRecordBytes,
    streamBytes: compression === 'none' ? (range ? range.end : handle.size) : undefined,
    onCorrupt: options.onCorrupt,
    onSkip: options.onSkip,
  })
  let chunks: AsyncIterable<Uint8Array>
  if (compression === 'none') {
    const start = range?.start ?? 0
    const end = range?.end ?? handle.size
    if (start > 0) framer.seek(start)
    if (start >= end) return
    chunks = handle.chunks({ start, end, signal: options.signal })
  } else {
    chunks = inflate(handle.chunks({ signal: options.signal }), compression)
  }
  try {
    for await (const chunk of chunks) {
      const sink: RecordSink = { records: [], offsets: [] }
      try {
        framer.push(chunk, sink)
      } catch (err) {
        // the records before the damage are good: deliver them, then the error
        if (sink.records.length > 0) yield sink
        throw err
      }
      if (sink.records.length > 0) yield sink
    }
  } catch (err) {
    if (!(err instanceof InflateError)) throw err
    // what was inflated so far has been framed; the rest of the shard is unreadable
    framer.fail(framer.bytesPushed, err.truncated ? 'truncated' : 'decompression', err.message)
    return
  }
  framer.end()
}
