/**
 * The disk tier's on-disk layout, in one place, because two threads open it: the reader's
 * thread (lookups, deletions, bookkeeping; lmdb-block-store.ts) and the disk writer thread
 * (fills; disk-writer-thread.ts). Both must open the environment with the same settings and
 * read and write the same value format. The named databases are one list (DATABASES) that
 * opening, the format reset and clear() all walk, so a new database cannot be opened but
 * forgotten by a reset, or the other way round.
 *
 * Layout (named databases):
 * - `blocks`:  block key -> 24-byte header (magic, format, length, CRC32C, insertion seq) + bytes
 * - `order`:   insertion seq (u64 BE) -> block key, the eviction queues: blocks with a seq
 *              below `mainBelow` are the main queue, the rest probation (lmdb-fill.ts)
 * - `sizes`:   block key -> data length (u32) + insertion seq (f64): what `has`, eviction and
 *              deletion need, without reading the multi-MiB value (which would stall the loop)
 * - `objects`: object id -> { url, version, size, blockSize, mtimeMs? }, for stats
 * - `urls`:    URL + 0 + object id -> (nothing), so eviction by URL is a range, not a scan
 * - `latest`:  URL -> the version most recently cached, for reading while the store is
 *              unreachable
 * The three object databases exist only for objects with at least one block here: written
 * with the first block, removed with the last (lmdb-object-catalog.ts), so they are bounded
 * by the blocks.
 * - `meta`:    format version, used bytes, entry count, next seq, where main ends
 *              (`mainBelow`) and its bytes (`mainUsage`), and the counts every process
 *              recorded (recorded-counts.ts)
 */
import { createHash } from 'node:crypto'
import { chmodSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { crc32c } from '@node-rs/crc32'
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb'
import { BLOCK_KEY_BYTES, CACHE_FORMAT_VERSION } from './block-key.js'
import type { ObjectInfo, RecordedCounts } from '../types.js'
import type { CachedObjectRecord } from './block-store.js'

export const MAGIC = 0x534c4231 // "SLB1"
export const HEADER_BYTES = 24
const PAGE = 4096

export type { CachedObjectRecord } from './block-store.js'

export interface CacheDbs {
  env: RootDatabase
  blocks: Database<Buffer, Buffer>
  order: Database<Buffer, Buffer>
  sizes: Database<Buffer, Buffer>
  objects: Database<CachedObjectRecord, Buffer>
  urls: Database<Buffer, Buffer>
  meta: Database<number, string>
  latest: Database<ObjectInfo, string>
}

export type DatabaseName = Exclude<keyof CacheDbs, 'env'>

interface DatabaseSpec {
  /** How lmdb-js encodes its keys and values (default: msgpack values, ordered keys). */
  options: DatabaseOptions
  /**
   * Whether clear() leaves it alone. `meta` survives: the format (a cleared cache is still
   * this format), the next seq, and the counts every process recorded, which are the node's
   * history rather than its content; clear() zeroes its usage counters itself (emptyCache).
   * A format reset empties every database, this one too.
   */
  keptByClear: boolean
}

const BINARY: DatabaseOptions = { encoding: 'binary', keyEncoding: 'binary' }

/**
 * Every named database, in the order they are opened. A record over DatabaseName: a database
 * added to CacheDbs and not here does not compile.
 */
export const DATABASES: { readonly [name in DatabaseName]: DatabaseSpec } = {
  blocks: { options: BINARY, keptByClear: false },
  order: { options: BINARY, keptByClear: false },
  sizes: { options: BINARY, keptByClear: false },
  objects: { options: { keyEncoding: 'binary' }, keptByClear: false },
  urls: { options: BINARY, keptByClear: false },
  meta: { options: {}, keptByClear: true },
  latest: { options: {}, keptByClear: false },
}

const DATABASE_NAMES = Object.keys(DATABASES) as DatabaseName[]

/** Map size in bytes for a bound: room for the B-tree and free pages, in whole 64 KiB units. */
export function defaultMapBytes(maxBytes: number): number {
  return Math.ceil((maxBytes * 1.5 + 256 * 1024 * 1024) / 65536) * 65536
}

/**
 * Opens the environment. No write map, although it made fills 2-5x cheaper here: writing
 * through a mapping of a sparse file on a full disk kills the process with SIGBUS, where a
 * normal commit fails with an error the tier can survive. No event-turn batching: with it,
 * lmdb-js rejects an internal batch promise nobody awaits when a commit fails, and the process
 * dies of an unhandled rejection on a full disk (seen with lmdb 3.5.6). The map is sized once
 * (`mapBytes`): a map that grows is mapped again and the old mappings linger, which tripled
 * the RSS LMDB showed in the soak benchmark. Address space only; the file grows as blocks are
 * written. lmdb-js shares one environment between the threads of a process that open a path.
 */
export function openCacheDbs(path: string, mapBytes: number): CacheDbs {
  narrowOldFiles(path)
  const env = open({
    path,
    // data.mdb and lock.mdb are created owner-only whatever the directory's mode: they hold the
    // cached training data, and a directory made beforehand (a hostPath) is often 0755.
    // lmdb-js passes this to mdb_env_open (undocumented, hence the spread).
    ...{ permissionsMode: FILE_MODE },
    // lmdb-js takes a path with an extension ("cache.v1") for a file, not a directory.
    noSubdir: false,
    // The named databases and one spare.
    maxDbs: DATABASE_NAMES.length + 1,
    compression: false,
    eventTurnBatching: false,
    mapSize: Math.ceil(mapBytes / 65536) * 65536,
  })
  const dbs: Record<string, unknown> = { env }
  for (const name of DATABASE_NAMES) dbs[name] = env.openDB({ name, ...DATABASES[name].options })
  return dbs as unknown as CacheDbs
}

/** Mode of every file of the disk tier: owner read and write, nobody else. */
export const FILE_MODE = 0o600
const LMDB_FILES = ['data.mdb', 'lock.mdb']

/**
 * Narrows LMDB files an older sluice created 0644, before they are opened. New files need no
 * chmod: LMDB creates them FILE_MODE, so no other user can open one in between. A file owned
 * by another user is left alone: cache-dir.ts refused a directory such a user could write in.
 */
function narrowOldFiles(dir: string): void {
  for (const name of LMDB_FILES) {
    const file = join(dir, name)
    try {
      const st = statSync(file)
      if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(file, FILE_MODE)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

/** Meta's counters of what is stored, which clear() zeroes with the data. */
function zeroUsage(dbs: CacheDbs): void {
  dbs.meta.putSync('usage', 0)
  dbs.meta.putSync('entries', 0)
  dbs.meta.putSync('mainUsage', 0)
}

/** Empties the cache inside the caller's write transaction; what `keptByClear` keeps stays. */
export function emptyCache(dbs: CacheDbs): void {
  for (const name of DATABASE_NAMES) if (!DATABASES[name].keptByClear) dbs[name].clearSync()
  zeroUsage(dbs)
}

/** Empties every database and starts this format afresh, inside the caller's write transaction. */
export function resetFormat(dbs: CacheDbs): void {
  for (const name of DATABASE_NAMES) dbs[name].clearSync()
  dbs.meta.putSync('format', CACHE_FORMAT_VERSION)
  zeroUsage(dbs)
  dbs.meta.putSync('seq', 0)
  dbs.meta.putSync('mainBelow', 0)
}

/** The same `meta` database, for the one record that is an object rather than a number. */
export function recordedMeta(dbs: CacheDbs): Database<RecordedCounts, string> {
  return dbs.meta as unknown as Database<RecordedCounts, string>
}

/**
 * One write transaction; a failed one rejects with what made the commit fail. lmdb-js
 * attaches a second rejected promise with that cause to the error; it is observed here, or it
 * surfaces as an unhandled rejection (and ends a writer thread).
 */
export async function transact(env: RootDatabase, body: () => void): Promise<void> {
  try {
    await env.transaction(body)
  } catch (err) {
    const commitError = (err as { commitError?: Promise<unknown> })?.commitError
    throw commitError ? await commitError.catch((e: unknown) => e) : err
  }
}

/**
 * Closes the environment once its writes have settled, whatever they came to. lmdb-js
 * resolves `env.flushed`, which its close() waits for, only when a commit succeeds: after a
 * failed one (a full disk) both wait for ever, unless a later commit succeeds (lmdb 3.5.6).
 * An empty write transaction is that commit, and it writes no page, so it lands on a full
 * disk too. If even it fails, LMDB cannot commit at all: this rejects with why and leaves the
 * environment open (the process's exit releases it) rather than wait on a close that never
 * ends. Either way nothing uncommitted was kept: the next process finds the last commit.
 */
export async function closeEnv(env: RootDatabase): Promise<void> {
  await transact(env, () => {})
  await env.close()
}

/** Bytes a block is charged: LMDB stores large values in whole overflow pages. */
export function chargedBytes(dataLength: number): number {
  return Math.ceil((HEADER_BYTES + dataLength + BLOCK_KEY_BYTES + 16) / PAGE) * PAGE
}

/**
 * URLs longer than this (UTF-8 bytes) are indexed by their start and a hash: LMDB keys stop
 * at 1978 bytes, and a presigned HTTP URL or a deep file path can pass that. A put of a
 * longer key throws inside the fill, after the block is written.
 */
export const MAX_INDEXED_URL_BYTES = 1024
const INDEXED_START_BYTES = 900

/**
 * The form of a URL that `latest` and `urls` are keyed by: the URL itself, or for a long URL
 * its first 900 bytes, a 0x7f and the SHA-256 of the whole URL (a byte lmdb-js's
 * ordered keys take as text; low bytes mark key parts). Both forms sort under every
 * prefix shorter than 900 bytes, so prefix scans still work; records keep the full URL.
 */
export function indexedUrl(url: string): string {
  if (url.length * 3 <= MAX_INDEXED_URL_BYTES || Buffer.byteLength(url) <= MAX_INDEXED_URL_BYTES) return url
  const start = Buffer.from(url, 'utf8').subarray(0, INDEXED_START_BYTES).toString('utf8')
  return `${start}\u007f${createHash('sha256').update(url).digest('hex')}`
}

/** Where a scan of `latest` for every URL under `prefix` starts (a long prefix: its indexed start). */
export function indexedPrefix(prefix: string): string {
  if (Buffer.byteLength(prefix) <= INDEXED_START_BYTES) return prefix
  return Buffer.from(prefix, 'utf8').subarray(0, INDEXED_START_BYTES - 4).toString('utf8').replace(/\uFFFD$/, '')
}

/** Key of the `urls` index: the indexed URL, a zero byte, then the object id (one URL's ids sort together). */
export function urlKey(url: string, id: Uint8Array): Buffer {
  return Buffer.concat([urlPrefix(url), id])
}

/** The start of every `urls` key of one URL. */
export function urlPrefix(url: string): Buffer {
  return Buffer.concat([Buffer.from(indexedUrl(url), 'utf8'), Buffer.alloc(1)])
}

export function seqKey(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8)
  b.writeBigUInt64BE(BigInt(seq))
  return b
}

/** Writes the 24-byte header in front of a block's bytes (which the caller places after it). */
export function writeHeader(value: Buffer, dataLength: number, crc: number, seq: number): void {
  value.writeUInt32LE(MAGIC, 0)
  value.writeUInt16LE(CACHE_FORMAT_VERSION, 4)
  value.writeUInt16LE(0, 6)
  value.writeUInt32LE(dataLength, 8)
  value.writeUInt32LE(crc, 12)
  value.writeDoubleLE(seq, 16)
}

/** A stored value's block bytes if its header and CRC32C check out, else undefined. */
export function verifiedData(raw: Buffer): Uint8Array | undefined {
  if (raw.length < HEADER_BYTES) return undefined
  if (raw.readUInt32LE(0) !== MAGIC || raw.readUInt16LE(4) !== CACHE_FORMAT_VERSION) return undefined
  const length = raw.readUInt32LE(8)
  if (length !== raw.length - HEADER_BYTES) return undefined
  const data = raw.subarray(HEADER_BYTES)
  if (crc32c(data) !== raw.readUInt32LE(12)) return undefined
  return data
}

/**
 * A fill's value before its header: `bytes` copied behind HEADER_BYTES of room, into `reuse`
 * when it is large enough (a buffer kept for the next fill), else into a new buffer.
 */
export function placeBehindHeader(reuse: ArrayBuffer | undefined, bytes: Uint8Array): ArrayBuffer {
  const need = HEADER_BYTES + bytes.length
  const buffer = reuse !== undefined && reuse.byteLength >= need ? reuse : new ArrayBuffer(need)
  new Uint8Array(buffer, HEADER_BYTES, bytes.length).set(bytes)
  return buffer
}

/** Data length and insertion seq of a stored block, from the small `sizes` index. */
export function sizeOf(sizes: Database<Buffer, Buffer>, key: Buffer): { length: number; seq: number } | undefined {
  const v = sizes.getBinary(key)
  return v === undefined || v.length < 12 ? undefined : { length: v.readUInt32LE(0), seq: v.readDoubleLE(4) }
}
