/**
 * Block keys: 16 bytes identifying one object version at one block size, then the block
 * index as 4 big-endian bytes (so one object's blocks sort together and a prefix scan finds
 * them all).
 *
 * The object part hashes the cache format version, the canonical URL, the version (ETag or
 * size-mtime-inode), the object's size and the block size. A changed object therefore can never hit old blocks,
 * and two readers with different block sizes never confuse each other's blocks.
 */
import { createHash } from 'node:crypto'

/** Bump when the meaning of stored bytes or keys changes; old entries then simply miss. */
export const CACHE_FORMAT_VERSION = 3

export const OBJECT_ID_BYTES = 16
export const BLOCK_KEY_BYTES = OBJECT_ID_BYTES + 4

/** `size`: an ObjectInfo with a wrong size (a stale listing) then gets keys of its own and can never plant a short block under the true object's keys. */
export function objectId(url: string, version: string, blockSize: number, size: number): Uint8Array {
  return createHash('sha256')
    .update(`sluice-block/${CACHE_FORMAT_VERSION}\n${url}\n${version}\n${size}\n${blockSize}`)
    .digest()
    .subarray(0, OBJECT_ID_BYTES)
}

export function blockKey(object: Uint8Array, index: number): Uint8Array {
  const key = Buffer.allocUnsafe(BLOCK_KEY_BYTES)
  key.set(object, 0)
  key.writeUInt32BE(index, OBJECT_ID_BYTES)
  return key
}

/** A string form for Map keys (singleflight, memory tier). */
export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}
