/**
 * The disk tier's on-disk layout, in one place, because two threads open it: the reader's
 * thread (lookups, deletions, bookkeeping; lmdb-block-store.ts) and the disk writer thread
 * (fills; disk-writer-thread.ts). Both must open the environment with the same settings and
 * read and write the same value format. The layout itself is described in
 * lmdb-block-store.ts.
 */
import { createHash } from 'node:crypto'
import { open, type Database, type RootDatabase } from 'lmdb'
import { BLOCK_KEY_BYTES, CACHE_FORMAT_VERSION } from './block-key.js'
import type { ObjectInfo } from '../types.js'
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
  const env = open({
    path,
    // lmdb-js takes a path with an extension ("cache.v1") for a file, not a directory.
    noSubdir: false,
    maxDbs: 8,
    compression: false,
    eventTurnBatching: false,
    mapSize: Math.ceil(mapBytes / 65536) * 65536,
  })
  return {
    env,
    blocks: env.openDB({ name: 'blocks', encoding: 'binary', keyEncoding: 'binary' }),
    order: env.openDB({ name: 'order', encoding: 'binary', keyEncoding: 'binary' }),
    sizes: env.openDB({ name: 'sizes', encoding: 'binary', keyEncoding: 'binary' }),
    objects: env.openDB({ name: 'objects', keyEncoding: 'binary' }),
    urls: env.openDB({ name: 'urls', encoding: 'binary', keyEncoding: 'binary' }),
    meta: env.openDB({ name: 'meta' }),
    latest: env.openDB({ name: 'latest' }),
  }
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

/** Data length and insertion seq of a stored block, from the small `sizes` index. */
export function sizeOf(sizes: Database<Buffer, Buffer>, key: Buffer): { length: number; seq: number } | undefined {
  const v = sizes.getBinary(key)
  return v === undefined || v.length < 12 ? undefined : { length: v.readUInt32LE(0), seq: v.readDoubleLE(4) }
}
