/**
 * What the cluster tier writes into Redis: key names and the self-describing value.
 *
 * Keys: `${keyPrefix}{${hex(blockKey)}}` holds the value and `...}:lease` its fill lease.
 * The braces are a Redis Cluster hash tag: both keys hash by the block key alone, so they
 * live in one slot (a Lua script may touch both) and blocks spread over every master.
 *
 * Value: a header, then the block's bytes. Every node of a training cluster reads what any
 * other wrote, through a server that any client with network access may write to, so each
 * read checks everything the header claims:
 *
 *   0  magic "SLC1" (u32 LE)     4  format (u16 LE)     6  flags (u8; 1 = HMAC follows)
 *   7  key length (u8)           8  data length (u32)  12  CRC32C of the data (u32)
 *  16  the block key            then, with flag 1, HMAC-SHA256 (32 bytes) over the header
 *                                before it and the data
 *
 * The key in the header catches a value copied or renamed to another key; the CRC catches
 * damage; the HMAC, with a `secret`, catches a writer without the secret. A value that fails
 * is reported as such and never returned. The returned block is a view of the GET buffer:
 * no copy on a hit.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { crc32c } from '@node-rs/crc32'

export const VALUE_MAGIC = 0x31434c53 // "SLC1" read as u32 LE
export const VALUE_FORMAT = 1
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

/** Whether a key name found by SCAN is a value (not a lease). */
export function isValueKey(name: string): boolean {
  return name.endsWith('}')
}

/** A glob matching every key whose block key starts with `prefix` (values and leases). */
export function keyPattern(keyPrefix: string, prefix?: Uint8Array): string {
  const escaped = keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
  return prefix === undefined ? `${escaped}*` : `${escaped}{${Buffer.from(prefix).toString('hex')}*`
}

/** Header bytes in front of a block under `key`. */
export function headerBytes(key: Uint8Array, signed: boolean): number {
  return FIXED_BYTES + key.length + (signed ? HMAC_BYTES : 0)
}

/** The value to store: header + bytes in one buffer (the block is copied once, behind the header). */
export function encodeValue(key: Uint8Array, bytes: Uint8Array, secret: Buffer | undefined): Buffer {
  if (key.length > MAX_KEY_BYTES) throw new RangeError(`block key of ${key.length} bytes; at most ${MAX_KEY_BYTES}`)
  const signedBytes = FIXED_BYTES + key.length
  const header = headerBytes(key, secret !== undefined)
  const out = Buffer.allocUnsafe(header + bytes.length)
  out.writeUInt32LE(VALUE_MAGIC, 0)
  out.writeUInt16LE(VALUE_FORMAT, 4)
  out.writeUInt8(secret === undefined ? 0 : FLAG_HMAC, 6)
  out.writeUInt8(key.length, 7)
  out.writeUInt32LE(bytes.length, 8)
  out.writeUInt32LE(crc32c(bytes as Buffer), 12)
  out.set(key, FIXED_BYTES)
  out.set(bytes, header)
  if (secret !== undefined) mac(secret, out.subarray(0, signedBytes), bytes).copy(out, signedBytes)
  return out
}

export type Verified =
  | { ok: true; data: Uint8Array }
  /** `integrity`: header, length, key or CRC32C wrong. `auth`: the HMAC is missing or wrong. */
  | { ok: false; failure: 'integrity' | 'auth'; header: Buffer }

/**
 * Checks a value read under `key`. With `secret`, a value must carry a valid HMAC; without,
 * the HMAC (if any) is skipped: this node has no key to check it with, the CRC still holds.
 * On failure, `header` is the value's first bytes as read, for a delete that removes this
 * value and not one written since.
 */
export function verifyValue(raw: Buffer, key: Uint8Array, secret: Buffer | undefined): Verified {
  const integrity = (): Verified => ({ ok: false, failure: 'integrity', header: raw.subarray(0, Math.min(raw.length, FIXED_BYTES + key.length)) })
  if (raw.length < FIXED_BYTES + key.length) return integrity()
  if (raw.readUInt32LE(0) !== VALUE_MAGIC || raw.readUInt16LE(4) !== VALUE_FORMAT || raw.readUInt8(7) !== key.length) return integrity()
  const flags = raw.readUInt8(6)
  if ((flags & ~FLAG_HMAC) !== 0) return integrity()
  const signed = (flags & FLAG_HMAC) !== 0
  const header = headerBytes(key, signed)
  if (raw.length < header || raw.readUInt32LE(8) !== raw.length - header) return integrity()
  if (!raw.subarray(FIXED_BYTES, FIXED_BYTES + key.length).equals(key)) return integrity()
  const data = raw.subarray(header)
  if (crc32c(data) !== raw.readUInt32LE(12)) return integrity()
  if (secret !== undefined) {
    const headerOnly = raw.subarray(0, header)
    if (!signed) return { ok: false, failure: 'auth', header: headerOnly }
    const signedBytes = FIXED_BYTES + key.length
    const expected = mac(secret, raw.subarray(0, signedBytes), data)
    if (!timingSafeEqual(expected, raw.subarray(signedBytes, header))) return { ok: false, failure: 'auth', header: headerOnly }
  }
  return { ok: true, data }
}

function mac(secret: Buffer, header: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(header).update(data).digest()
}
