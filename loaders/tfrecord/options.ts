/**
 * The options of `tfrecords()`, their defaults and their validation.
 *
 * Validation happens once, synchronously, when the dataset is made: a mistake is a TypeError
 * or RangeError naming the option's path (`shuffle.buffer`), thrown before any I/O, because it
 * is a programming error and should fail at the line that made it.
 */
import { COMPRESSION_OPTIONS, type CompressionOption } from './compression.js'
import type { IndexOptions } from './record-index.js'
import { checkStateShape, type TFRecordState } from './state.js'

export interface ShuffleOptions {
  /** Seed of every random choice; with the epoch it fixes the order completely. Required. */
  seed: number
  /**
   * Records held in the shuffle buffer. Default 1024. Records entering it are copied once so
   * the buffer holds only their bytes (a view would keep its whole cache block alive); memory
   * is about `buffer × record size`. 0 shuffles shard order only.
   */
  buffer?: number
  /** Permute the shard order each epoch. Default true. */
  shards?: boolean
  /**
   * Exact global shuffle: one random permutation of every record of every shard, read by
   * ranged reads located with the record indexes (built on first use, cached). Needs
   * uncompressed shards. Default false.
   */
  global?: boolean
  /** Copy records entering the buffer (see `buffer`). Default true. */
  copy?: boolean
}

export interface ShardOptions {
  /** This rank, `0 ≤ index < count`. */
  index: number
  /** Number of ranks. */
  count: number
  /**
   * `'files'`: whole shards are dealt to ranks (needs count ≤ shards); `'records'`: the
   * epoch's record sequence is cut into `count` contiguous, equal (±1) parts, using the record
   * indexes; `'auto'` (default): files when there are at least as many shards as ranks.
   */
  mode?: 'auto' | 'files' | 'records'
}

export interface ReadAheadOptions {
  /** Shards opened and prefetched ahead of the one being read. Default 2. */
  shards?: number
  /** Bytes hinted for prefetch across those next shards, in total. Default 64 MiB. */
  bytes?: number
  /** Bytes of framed records buffered between the reader and the consumer. Default 32 MiB. */
  queueBytes?: number
  /** Records read ahead in global-shuffle mode (ranged reads in flight). Default 32. */
  records?: number
  /**
   * Global-shuffle mode: hand the reader this rank's reads of the epoch before the first one
   * (`reader.plan`), so its cache fetches ahead in that order and evicts by it (Belady's rule).
   * `{ ranksPerNode }`: the reads of every rank on this rank's node instead (ranks placed on
   * nodes in consecutive groups of that many), so ranks sharing a disk tier evict by one plan
   * and each fetches ahead only its share. A reader holds one plan at a time: for two datasets
   * iterating at once over one reader, set this false on all but one of them. Ignored by
   * readers without `plan`. Default true (this rank's reads).
   */
  plan?: boolean | { ranksPerNode: number }
}

export interface TFRecordOptions {
  /** `'none' | 'gzip' | 'zlib' | 'auto'` (default: sniffed from the first bytes, then the suffix). */
  compression?: CompressionOption
  /** Check the masked CRC32C of every length and every record. Default true. */
  verify?: boolean
  /** `'error'` (default) rejects with TFRecordCorruptionError; `'skip'` drops bad records and counts them. */
  onCorrupt?: 'error' | 'skip'
  /** Largest record accepted, in bytes; a bigger length is corruption. Default 256 MiB. */
  maxRecordBytes?: number
  /** `false` (default): file order. Otherwise deterministic for (seed, epoch). */
  shuffle?: false | ShuffleOptions
  /** This rank's part of the data. Default: everything (`{ index: 0, count: 1 }`). */
  shard?: ShardOptions
  /** Epoch number, mixed into every random choice. Default 0 (or the resumed state's). */
  epoch?: number
  /** Continue after the records a previous run delivered (from `ds.state()`). */
  resume?: TFRecordState
  readAhead?: ReadAheadOptions
  /** Aborts reading; iteration rejects with the signal's reason. */
  signal?: AbortSignal
}

export interface ResolvedOptions {
  compression: CompressionOption
  verify: boolean
  onCorrupt: 'error' | 'skip'
  maxRecordBytes: number
  shuffle: { seed: number; buffer: number; shards: boolean; global: boolean; copy: boolean } | undefined
  shard: { index: number; count: number; mode: 'auto' | 'files' | 'records' }
  epoch: number
  resume: TFRecordState | undefined
  readAhead: { shards: number; bytes: number; queueBytes: number; records: number; plan: false | { ranksPerNode: number } }
  signal: AbortSignal | undefined
}

const MiB = 1024 * 1024
const KNOWN = new Set(['compression', 'verify', 'onCorrupt', 'maxRecordBytes', 'shuffle', 'shard', 'epoch', 'resume', 'readAhead', 'signal'])

export function resolveOptions(options: TFRecordOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('tfrecords: options must be an object')
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`tfrecords: unknown option ${JSON.stringify(key)}`)
  }
  const compression = options.compression ?? 'auto'
  if (!COMPRESSION_OPTIONS.includes(compression)) {
    throw new RangeError(`tfrecords: compression must be one of ${COMPRESSION_OPTIONS.join(', ')}, got ${JSON.stringify(compression)}`)
  }
  const verify = bool(options.verify, true, 'verify')
  const onCorrupt = options.onCorrupt ?? 'error'
  if (onCorrupt !== 'error' && onCorrupt !== 'skip') {
    throw new RangeError(`tfrecords: onCorrupt must be 'error' or 'skip', got ${JSON.stringify(onCorrupt)}`)
  }
  const maxRecordBytes = int(options.maxRecordBytes, 256 * MiB, 'maxRecordBytes', 0, 2 ** 31 - 1)

  let shuffle: ResolvedOptions['shuffle']
  if (options.shuffle !== undefined && options.shuffle !== false) {
    const s = options.shuffle as ShuffleOptions
    if (s === null || typeof s !== 'object') throw new TypeError('tfrecords: shuffle must be false or { seed, buffer? }')
    if (typeof s.seed !== 'number' || !Number.isSafeInteger(s.seed)) {
      throw new TypeError(`tfrecords: shuffle.seed must be an integer, got ${JSON.stringify(s.seed)}`)
    }
    shuffle = {
      seed: s.seed,
      buffer: int(s.buffer, 1024, 'shuffle.buffer', 0, 2 ** 26),
      shards: bool(s.shards, true, 'shuffle.shards'),
      global: bool(s.global, false, 'shuffle.global'),
      copy: bool(s.copy, true, 'shuffle.copy'),
    }
  }

  const shard = { index: 0, count: 1, mode: 'auto' as 'auto' | 'files' | 'records' }
  if (options.shard !== undefined) {
    if (options.shard === null || typeof options.shard !== 'object') throw new TypeError('tfrecords: shard must be { index, count }')
    shard.count = int(options.shard.count, undefined, 'shard.count', 1, 2 ** 31)
    shard.index = int(options.shard.index, undefined, 'shard.index', 0, shard.count - 1)
    const mode = options.shard.mode ?? 'auto'
    if (mode !== 'auto' && mode !== 'files' && mode !== 'records') {
      throw new RangeError(`tfrecords: shard.mode must be 'auto', 'files' or 'records', got ${JSON.stringify(mode)}`)
    }
    shard.mode = mode
  }

  const resume = options.resume
  if (resume !== undefined) checkStateShape(resume, 'tfrecords: resume')
  let epoch = int(options.epoch, resume?.epoch ?? 0, 'epoch', 0, 2 ** 31)
  if (resume !== undefined && options.epoch !== undefined && resume.epoch !== epoch) {
    throw new RangeError(`tfrecords: epoch ${epoch} differs from the resumed state's epoch ${resume.epoch}`)
  }
  if (resume !== undefined) epoch = resume.epoch

  const ra = options.readAhead ?? {}
  if (ra === null || typeof ra !== 'object') throw new TypeError('tfrecords: readAhead must be an object')
  const readAhead = {
    shards: int(ra.shards, 2, 'readAhead.shards', 0, 64),
    bytes: int(ra.bytes, 64 * MiB, 'readAhead.bytes', 0, Number.MAX_SAFE_INTEGER),
    queueBytes: int(ra.queueBytes, 32 * MiB, 'readAhead.queueBytes', 1, Number.MAX_SAFE_INTEGER),
    records: int(ra.records, 32, 'readAhead.records', 1, 4096),
    plan: planOption(ra.plan),
  }
  const signal = options.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('tfrecords: signal must be an AbortSignal')
  return { compression, verify, onCorrupt, maxRecordBytes, shuffle, shard, epoch, resume, readAhead, signal }
}

/** `readAhead.plan`: false, or the node grouping of the plan (1: this rank's reads only). */
function planOption(value: unknown): false | { ranksPerNode: number } {
  if (value === undefined || value === true) return { ranksPerNode: 1 }
  if (value === false) return false
  if (value === null || typeof value !== 'object') throw new TypeError('tfrecords: readAhead.plan must be a boolean or { ranksPerNode }')
  return { ranksPerNode: int((value as { ranksPerNode?: unknown }).ranksPerNode, undefined, 'readAhead.plan.ranksPerNode', 1, 1 << 20) }
}

function bool(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new TypeError(`tfrecords: ${name} must be a boolean, got ${JSON.stringify(value)}`)
  return value
}

function int(value: unknown, fallback: number | undefined, name: string, min: number, max: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new TypeError(`tfrecords: ${name} is required`)
    return fallback
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`tfrecords: ${name} must be an integer, got ${JSON.stringify(value)}`)
  }
  if (value < min || value > max) throw new RangeError(`tfrecords: ${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

/** The options a record index is built or read with, as this dataset reads its shards. */
export function indexOptionsOf(o: ResolvedOptions): IndexOptions {
  return { compression: o.compression, verify: o.verify, onCorrupt: o.onCorrupt, maxRecordBytes: o.maxRecordBytes, signal: o.signal }
}
