/**
 * What the cluster tier writes into Redis: key names and the self-describing value.
 *
 * Keys: `${keyPrefix}{${hex(blockKey)}}` holds the value's head, `...}:data` its bulk and
 * `...}:lease` its fill lease. The braces are a Redis Cluster hash tag: the keys hash by the
 * block key alone, so they live in one slot (a Lua script may touch them together) and blocks
 * spread over every master.
 *
 * Why a head and a bulk: Redis keeps a string in one allocation of its length plus a few
 * bytes, and jemalloc rounds a large allocation up to the next of four size classes per
 * doubling. A 4 MiB block with its header in one string cost 5 MiB (measured, bench/
 * cluster-sizing.ts): a quarter of the cluster's memory lost to rounding. So the bulk holds
 * all but the block's last TAIL_BYTES bytes (4 MiB - 64 fits the 4 MiB class) and the head
 * holds the header and those last bytes. The head is written last and read first: a block is
 * present when its head is.
 *
 * Head: a header, then the block's tail. Every node of a training cluster reads what any
 * other wrote, through a server that any client with network access may write to, so each
 * read checks everything the header claims:
 *
 *   0  magic "SLC1" (u32 LE)     4  format (u16 LE)     6  flags (u8; 1 = HMAC follows)
 *   7  key length (u8)           8  block length (u32)  12  CRC32C of the block (u32)
 *  16  the block key            then, with flag 1, HMAC-SHA256 (32 bytes) over the header
 *                                before it and the block
 *
 * The key in the header catches a value copied or renamed to another key; the length and
 * CRC catch damage and a bulk that does not belong to its head; the HMAC, with a `secret`,
 * catches a writer without the secret. A value that fails is reported as such and never
 * returned. A block read back is assembled into memory with room for the disk tier's header
 * in front (block-buffer.ts), so filling this node's disk tier with it costs no further copy;
 * a bulk read by cluster-bulk-reader.ts already sits in such a block, and only its tail is
 * copied in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { crc32c } from '@node-rs/crc32'
import { allocBlock } from '../block-buffer.js'
import type { BulkInBlock } from './cluster-bulk-reader.js'

export const VALUE_MAGIC = 0x31434c53 // "SLC1" read as u32 LE
export const VALUE_FORMAT = 2
/** Bytes of a block stored in its head, after the header; the rest is the bulk. */
export const TAIL_BYTES = 64
const FLAG_HMAC = 1
const FIXED_BYTES = 16
const HMAC_BYTES = 32
const MAX_KEY_BYTES = 255

export function valueKeyOf(keyPrefix: string, key: Uint8Array): string {
  return `${keyPrefix}{${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}}`
}

export function leaseKeyOf(valueKey: string): string {
  return `${valueKey}:lease`
}

export function bulkKeyOf(valueKey: string): string {
  return `${valueKey}:data`
}

/** Whether a key name found by SCAN is a value's head (not its bulk or lease). */
export function isValueKey(name: string): boolean {
  return name.endsWith('}')
}

/** A glob matching every key whose block key starts with `prefix` (heads, bulks and leases). */
export function keyPattern(keyPrefix: string, prefix?: Uint8Array): string {
  const escaped = keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
  return prefix === undefined ? `${escaped}*` : `${escaped}{${Buffer.from(prefix).toString('hex')}*`
}

/** Header bytes in front of a block under `key`. */
export function headerBytes(key: Uint8Array, signed: boolean): number {
  return FIXED_BYTES + key.length + (signed ? HMAC_BYTES : 0)
}

export interface EncodedValue {
  /** Header and the block's last bytes. */
  head: Buffer
  /** The rest of the block: a view of the block given, not a copy; undefined for a block of at most TAIL_BYTES. */
  bulk: Uint8Array | undefined
}

/** The head and bulk to store for a block. */
export function encodeValue(key: Uint8Array, bytes: Uint8Array, secret: Buffer | undefined): EncodedValue {
  if (key.length > MAX_KEY_BYTES) throw new RangeError(`block key of ${key.length} bytes; at most ${MAX_KEY_BYTES}`)
  const signedBytes = FIXED_BYTES + key.length
  const header = headerBytes(key, secret !== undefined)
  const bulkLength = Math.max(0, bytes.length - TAIL_BYTES)
  const head = Buffer.allocUnsafe(header + bytes.length - bulkLength)
  head.writeUInt32LE(VALUE_MAGIC, 0)
  head.writeUInt16LE(VALUE_FORMAT, 4)
  head.writeUInt8(secret === undefined ? 0 : FLAG_HMAC, 6)
  head.writeUInt8(key.length, 7)
  head.writeUInt32LE(bytes.length, 8)
  head.writeUInt32LE(crc32c(bytes), 12)
  head.set(key, FIXED_BYTES)
  head.set(bytes.subarray(bulkLength), header)
  if (secret !== undefined) mac(secret, head.subarray(0, signedBytes), [bytes]).copy(head, signedBytes)
  return { head, bulk: bulkLength > 0 ? bytes.subarray(0, bulkLength) : undefined }
}

/** Whether a head read back says its value has a bulk (a block longer than TAIL_BYTES); false for no head or a short one. */
export function namesBulk(head: Buffer | null): boolean {
  return head !== null && head.length >= FIXED_BYTES && head.readUInt32LE(8) > TAIL_BYTES
}

export type Verified =
  | { ok: true; data: Uint8Array }
  /**
   * `integrity`: header, length, key or CRC32C wrong. `auth`: the HMAC is missing or wrong.
   * `incomplete`: the head names a bulk that is not there (evicted apart from its head).
   */
  | { ok: false; failure: 'integrity' | 'auth' | 'incomplete'; header: Buffer }

/**
 * Checks a value read under `key` (its head, and its bulk or null; a bulk read into a block
 * with TAIL_BYTES of room after it becomes the block, with no copy). With `secret`, a value
 * must carry a valid HMAC; without, the HMAC (if any) is skipped: this node has no key to
 * check it with, the CRC still holds. On failure, `header` is the head's first bytes as read,
 * for a delete that removes this value and not one written since.
 */
export function verifyValue(raw: Buffer, bulk: Buffer | BulkInBlock | null, key: Uint8Array, secret: Buffer | undefined): Verified {
  const failed = (failure: 'integrity' | 'auth' | 'incomplete', upTo = FIXED_BYTES + key.length): Verified => ({ ok: false, failure, header: raw.subarray(0, Math.min(raw.length, upTo)) })
  if (raw.length < FIXED_BYTES + key.length) return failed('integrity')
  if (raw.readUInt32LE(0) !== VALUE_MAGIC || raw.readUInt16LE(4) !== VALUE_FORMAT || raw.readUInt8(7) !== key.length) return failed('integrity')
  const flags = raw.readUInt8(6)
  if ((flags & ~FLAG_HMAC) !== 0) return failed('integrity')
  const signed = (flags & FLAG_HMAC) !== 0
  const header = headerBytes(key, signed)
  const length = raw.readUInt32LE(8)
  const bulkLength = Math.max(0, length - TAIL_BYTES)
  if (raw.length !== header + length - bulkLength) return failed('integrity')
  if (!raw.subarray(FIXED_BYTES, FIXED_BYTES + key.length).equals(key)) return failed('integrity')
  if (bulkLength > 0 && bulk === null) return failed('incomplete')
  const bulkBytes = bulk === null ? undefined : Buffer.isBuffer(bulk) ? bulk : bulk.block.subarray(0, bulk.length)
  if (bulkLength > 0 && bulkBytes!.length !== bulkLength) return failed('integrity')
  const tail = raw.subarray(header)
  let parts: Uint8Array[]
  if (bulkLength === 0) parts = [tail]
  else if (!Buffer.isBuffer(bulk) && bulk!.block.length === length) {
    // Read into a block with room for the tail: the block is whole once the tail is in.
    bulk!.block.set(tail, bulkLength)
    parts = [bulk!.block]
  } else parts = [bulkBytes!, tail]
  let crc = 0
  for (const part of parts) crc = crc32c(part, crc)
  if (crc !== raw.readUInt32LE(12)) return failed('integrity')
  if (secret !== undefined) {
    if (!signed) return failed('auth', header)
    const signedBytes = FIXED_BYTES + key.length
    const expected = mac(secret, raw.subarray(0, signedBytes), parts)
    if (!timingSafeEqual(expected, raw.subarray(signedBytes, header))) return failed('auth', header)
  }
  if (parts.length === 1) return { ok: true, data: parts[0]! }
  const data = allocBlock(length)
  data.set(bulkBytes!, 0)
  data.set(tail, bulkLength)
  return { ok: true, data }
}

function mac(secret: Buffer, header: Uint8Array, parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', secret).update(header)
  for (const part of parts) h.update(part)
  return h.digest()
}
