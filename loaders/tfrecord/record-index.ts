/**
 * Record indexes: where each record of one shard version starts and how long it is.
 *
 * One streaming pass over the shard (through the same framer as reading, so shards of many GB
 * index in constant memory apart from 16 bytes per record) gives the offsets. An index is
 * keyed by the hash of (URL, version): a changed object gets a new index and can never be read
 * through a stale one. With a cache directory the index is stored under
 * `<cacheDir>/tfrecord-index/` (written to a temp name and renamed, so concurrent ranks on one
 * node never see half a file) and reused across processes and restarts; without one it lives
 * in memory for the reader's lifetime. Concurrent requests for one index share one build.
 *
 * Offsets of compressed shards are positions in the inflated stream: good for counting and
 * splitting records, not for ranged reads, so `recordAt` on them streams from the start.
 *
 * A stored index is trusted only as far as it checks out (docs/security.md): it is written
 * owner-only, ends with a SHA-256 of its content, names the URL, version and size it was built
 * for, and must describe records in order, not overlapping, inside the object. One that fails
 * any of this is ignored and built again; and a record read through any index is returned
 * only if its framing (length, CRCs) says it is a whole record at that offset.
 *
 * The DALI text format (`offset size` per line, size including the 16 framing bytes) is what
 * NVIDIA DALI's `tfrecord2idx` writes and its TFRecord reader takes; import and export let the
 * two share indexes.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TFRecordCorruptionError } from '../../lib/index.js'
import type { ObjectHandle, ObjectInfo, ObjectReader } from '../../lib/index.js'
import type { Compression, CompressionOption } from './compression.js'
import { crc32c, maskCrc } from './crc.js'
import { FRAME_OVERHEAD } from './framing.js'
import { readShard, resolveCompression, type ShardReadOptions } from './shard-reader.js'

export interface RecordIndex {
  url: string
  version: string
  /** Object size in bytes. */
  size: number
  compression: Compression
  /** Start of each record's header, in the (inflated) stream. */
  offsets: Float64Array
  /** Data length of each record (without the 16 framing bytes). */
  lengths: Float64Array
}

export interface IndexOptions {
  compression?: CompressionOption
  /** Check data CRCs while indexing (length CRCs are always checked). Default true. */
  verify?: boolean
  onCorrupt?: 'error' | 'skip'
  maxRecordBytes?: number
  signal?: AbortSignal | undefined
  /** Called when the index has to be built by a pass (not found in memory or the cache directory). */
  onBuild?: () => void
}

const MAGIC = 'SLTFIDX2'
const FORMAT_VERSION = 2
const DIGEST_BYTES = 32
const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zlib']
/** Index files and their directory are the owner's alone, whatever the cache directory's mode. */
const FILE_MODE = 0o600
const DIR_MODE = 0o700

/** Per-reader memo of indexes (and builds in flight). */
const memo = new WeakMap<ObjectReader, Map<string, Promise<RecordIndex>>>()

function indexKey(url: string, version: string): string {
  return createHash('sha256').update(`tfrecord-index:${FORMAT_VERSION}\n${url}\n${version}`).digest('hex').slice(0, 40)
}

function indexPath(cacheDir: string, key: string): string {
  return join(cacheDir, 'tfrecord-index', `${key}.idx`)
}

/**
 * The index of `url`'s current version (or of the version `info`/`handle` pins): from memory,
 * from the cache directory, or built by one pass.
 */
export function recordIndex(
  reader: ObjectReader,
  target: string | ObjectInfo | ObjectHandle,
  options: IndexOptions = {},
): Promise<RecordIndex> {
  return (async () => {
    const info = typeof target === 'string' ? await reader.stat(target, { signal: options.signal }) : target
    const key = indexKey(info.url, info.version)
    let byKey = memo.get(reader)
    if (!byKey) memo.set(reader, (byKey = new Map()))
    let pending = byKey.get(key)
    if (!pending) {
      pending = loadOrBuild(reader, info, key, options)
      byKey.set(key, pending)
      pending.catch(() => byKey!.delete(key))
    }
    return pending
  })()
}

async function loadOrBuild(reader: ObjectReader, info: ObjectInfo | ObjectHandle, key: string, options: IndexOptions): Promise<RecordIndex> {
  if (reader.cacheDir !== undefined) {
    const stored = await loadIndex(indexPath(reader.cacheDir, key), info).catch(() => undefined)
    if (stored) return stored
  }
  options.onBuild?.()
  const index = await buildIndex(reader, info, options)
  if (reader.cacheDir !== undefined) await storeIndex(reader.cacheDir, key, index).catch(() => undefined)
  return index
}

/** One pass over the shard, collecting record offsets and lengths. */
async function buildIndex(reader: ObjectReader, info: ObjectInfo | ObjectHandle, options: IndexOptions): Promise<RecordIndex> {
  const handle = 'read' in info ? info : await reader.open(info.url, { signal: options.signal })
  try {
    const compression = await resolveCompression(handle, options.compression ?? 'auto')
    const readOptions: ShardReadOptions = {
      verify: options.verify ?? true,
      onCorrupt: options.onCorrupt ?? 'error',
      maxRecordBytes: options.maxRecordBytes ?? 256 * 1024 * 1024,
      compression,
      signal: options.signal,
    }
    let offsets: Float64Array<ArrayBuffer> = new Float64Array(1024)
    let lengths: Float64Array<ArrayBuffer> = new Float64Array(1024)
    let n = 0
    for await (const batch of readShard(handle, readOptions, compression)) {
      if (n + batch.records.length > offsets.length) {
        const cap = Math.max(offsets.length * 2, n + batch.records.length)
        offsets = grow(offsets, cap)
        lengths = grow(lengths, cap)
      }
      for (let i = 0; i < batch.records.length; i++) {
        offsets[n] = batch.offsets[i]!
        lengths[n] = batch.records[i]!.length
        n++
      }
    }
    return {
      url: handle.url,
      version: handle.version,
      size: handle.size,
      compression,
      offsets: offsets.slice(0, n),
      lengths: lengths.slice(0, n),
    }
  } finally {
    if (handle !== info) await handle.close()
  }
}

function grow(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap)
  b.set(a)
  return b
}

/**
 * Binary layout: magic (8) | header JSON length u32 | header JSON | pad to 8 | offsets f64[n] |
 * lengths f64[n] | SHA-256 of everything before it.
 */
async function storeIndex(cacheDir: string, key: string, index: RecordIndex): Promise<void> {
  const dir = join(cacheDir, 'tfrecord-index')
  await mkdir(dir, { recursive: true, mode: DIR_MODE })
  const header = Buffer.from(
    JSON.stringify({ url: index.url, version: index.version, size: index.size, compression: index.compression, count: index.offsets.length }),
  )
  const headerEnd = 12 + header.length
  const dataStart = Math.ceil(headerEnd / 8) * 8
  const n = index.offsets.length
  const body = dataStart + 16 * n
  const out = Buffer.alloc(body + DIGEST_BYTES)
  out.write(MAGIC, 0, 'latin1')
  out.writeUInt32LE(header.length, 8)
  header.copy(out, 12)
  Buffer.from(index.offsets.buffer, index.offsets.byteOffset, 8 * n).copy(out, dataStart)
  Buffer.from(index.lengths.buffer, index.lengths.byteOffset, 8 * n).copy(out, dataStart + 8 * n)
  createHash('sha256').update(out.subarray(0, body)).digest().copy(out, body)
  const path = indexPath(cacheDir, key)
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(tmp, out, { mode: FILE_MODE, flag: 'wx' })
  await rename(tmp, path)
}

/** The stored index of exactly `info`'s version, or undefined if the file does not check out. */
async function loadIndex(path: string, info: ObjectInfo | ObjectHandle): Promise<RecordIndex | undefined> {
  const buf = await readFile(path)
  if (buf.length < 12 + DIGEST_BYTES || buf.toString('latin1', 0, 8) !== MAGIC) return undefined
  const body = buf.length - DIGEST_BYTES
  if (!timingSafeEqual(createHash('sha256').update(buf.subarray(0, body)).digest(), buf.subarray(body))) return undefined
  const headerLength = buf.readUInt32LE(8)
  if (12 + headerLength > body) return undefined
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as Partial<Record<string, unknown>>
  if (header.url !== info.url || header.version !== info.version || header.size !== info.size) return undefined
  const compression = header.compression as Compression
  if (!COMPRESSIONS.includes(compression) || !Number.isSafeInteger(header.count)) return undefined
  const dataStart = Math.ceil((12 + headerLength) / 8) * 8
  const n = header.count as number
  if (n < 0 || body !== dataStart + 16 * n) return undefined
  const copy = new Uint8Array(16 * n)
  copy.set(buf.subarray(dataStart, body))
  const index: RecordIndex = {
    url: info.url,
    version: info.version,
    size: info.size,
    compression,
    offsets: new Float64Array(copy.buffer, 0, n),
    lengths: new Float64Array(copy.buffer, 8 * n, n),
  }
  return wellFormed(index) ? index : undefined
}

/**
 * Whether the index describes records that can exist: whole numbers, in order, none
 * overlapping the next, and (uncompressed, where offsets are positions in the object) none
 * past the object's end. Gaps are allowed: `onCorrupt: 'skip'` and DALI indexes leave them.
 */
function wellFormed(index: RecordIndex): boolean {
  let end = 0
  for (let i = 0; i < index.offsets.length; i++) {
    const offset = index.offsets[i]!
    const length = index.lengths[i]!
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || length < 0 || offset < end) return false
    end = offset + FRAME_OVERHEAD + length
  }
  return index.compression !== 'none' || end <= index.size
}

// ---------------------------------------------------------------------------------------------
// DALI text format

/** The index as DALI's text format: `offset size` per line (size includes framing). */
export function toDaliIndex(index: RecordIndex): string {
  const lines: string[] = new Array(index.offsets.length)
  for (let i = 0; i < index.offsets.length; i++) lines[i] = `${index.offsets[i]} ${index.lengths[i]! + FRAME_OVERHEAD}`
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}

/**
 * Parses DALI's text format for the object `info` (uncompressed). Throws RangeError on lines
 * that are not two integers, sizes under 16 bytes, overlaps, or records past the object's end.
 */
export function parseDaliIndex(text: string, info: ObjectInfo): RecordIndex {
  const offsets: number[] = []
  const lengths: number[] = []
  let end = 0
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    const m = /^(\d+)\s+(\d+)$/.exec(line)
    if (!m) throw new RangeError(`DALI index line ${i + 1}: expected "offset size", got ${JSON.stringify(line)}`)
    const offset = Number(m[1])
    const size = Number(m[2])
    if (size < FRAME_OVERHEAD) throw new RangeError(`DALI index line ${i + 1}: size ${size} is smaller than the 16 framing bytes`)
    if (offset < end) throw new RangeError(`DALI index line ${i + 1}: offset ${offset} overlaps the previous record`)
    if (offset + size > info.size) throw new RangeError(`DALI index line ${i + 1}: record ends past the object's ${info.size} bytes`)
    offsets.push(offset)
    lengths.push(size - FRAME_OVERHEAD)
    end = offset + size
  }
  return {
    url: info.url,
    version: info.version,
    size: info.size,
    compression: 'none',
    offsets: Float64Array.from(offsets),
    lengths: Float64Array.from(lengths),
  }
}

/**
 * Adopts a DALI index for `url`'s current version (stored in the cache directory when there
 * is one), so later reads skip the indexing pass. Returns the parsed index.
 */
export async function importDaliIndex(reader: ObjectReader, url: string, text: string): Promise<RecordIndex> {
  const info = await reader.stat(url)
  const index = parseDaliIndex(text, info)
  const key = indexKey(info.url, info.version)
  let byKey = memo.get(reader)
  if (!byKey) memo.set(reader, (byKey = new Map()))
  byKey.set(key, Promise.resolve(index))
  if (reader.cacheDir !== undefined) await storeIndex(reader.cacheDir, key, index)
  return index
}

// ---------------------------------------------------------------------------------------------
// random access

export interface RecordAtOptions extends IndexOptions {
  /** An open handle of the object to read through (it must be of the index's version). */
  handle?: ObjectHandle
}

/**
 * Record number `i` of `url`, by one ranged read located with the index (CRCs checked unless
 * `verify: false`). Compressed shards have no ranged reads: their record is found by
 * streaming from the start.
 */
export async function recordAt(reader: ObjectReader, url: string, i: number, options: RecordAtOptions = {}): Promise<Uint8Array> {
  if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`recordAt: record number must be a non-negative integer, got ${i}`)
  const handle = options.handle ?? (await reader.open(url, { signal: options.signal }))
  try {
    const index = await recordIndex(reader, handle, options)
    if (i >= index.offsets.length) throw new RangeError(`recordAt: ${url} has ${index.offsets.length} records, asked for number ${i}`)
    if (index.compression !== 'none') return await streamToRecord(handle, index, i, options)
    return await readRecordAt(handle, index.offsets[i]!, index.lengths[i]!, options.verify ?? true)
  } finally {
    if (options.handle === undefined) await handle.close()
  }
}

/** One ranged read of the framed record at `offset` (data length `length`), checked. */
export async function readRecordAt(handle: ObjectHandle, offset: number, length: number, verify: boolean): Promise<Uint8Array> {
  const framed = await handle.read(offset, length + FRAME_OVERHEAD)
  if (framed.length < length + FRAME_OVERHEAD) {
    throw new TFRecordCorruptionError(handle.url, offset, 'truncated', `object ends ${framed.length} bytes into the record`)
  }
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength)
  const storedLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32
  if (storedLength !== length) {
    throw new TFRecordCorruptionError(handle.url, offset, 'length-crc', `index says ${length} bytes, record header says ${storedLength}`)
  }
  const data = framed.subarray(12, 12 + length)
  if (verify) {
    if (maskCrc(crc32c(framed.subarray(0, 8))) !== view.getUint32(8, true)) {
      throw new TFRecordCorruptionError(handle.url, offset, 'length-crc')
    }
    if (maskCrc(crc32c(data)) !== view.getUint32(12 + length, true)) {
      throw new TFRecordCorruptionError(handle.url, offset, 'data-crc')
    }
  }
  return data
}

async function streamToRecord(handle: ObjectHandle, index: RecordIndex, i: number, options: IndexOptions): Promise<Uint8Array> {
  const target = index.offsets[i]!
  const readOptions: ShardReadOptions = {
    verify: options.verify ?? true,
    onCorrupt: 'skip',
    maxRecordBytes: options.maxRecordBytes ?? 256 * 1024 * 1024,
    compression: index.compression,
    signal: options.signal,
  }
  for await (const batch of readShard(handle, readOptions, index.compression)) {
    const at = batch.offsets.indexOf(target)
    if (at >= 0) return batch.records[at]!
  }
  throw new TFRecordCorruptionError(handle.url, target, 'truncated', 'record listed in the index not found')
}
