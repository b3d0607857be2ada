/**
 * Block buffers with room in front for the disk tier's value header.
 *
 * An LMDB value is a header followed by the block's bytes, in one buffer. A block that
 * arrives in a buffer of its own would otherwise be copied once more, into a scratch buffer
 * behind a header, on the reader's thread, for every fill. Sources that allocate their
 * blocks from a response body (read-body.ts, for S3 and HTTP) allocate them here instead, with
 * `BLOCK_HEADROOM` bytes in front that nothing else can see: the view handed out starts
 * after them. The disk tier writes its header there and stores the header and block in
 * place.
 *
 * Only views made here have the room, and a WeakSet says which: a view of someone else's
 * buffer (a slice of a larger read, a caller's buffer) might have another block's bytes in
 * front of it, so it is never written before; it takes the copy.
 */

/** Bytes in front of every block allocated here; at least the disk tier's header. */
export const BLOCK_HEADROOM = 32

const withHeadroom = new WeakSet<Uint8Array>()

/** An uninitialised block of `length` bytes with BLOCK_HEADROOM private bytes in front of it. */
export function allocBlock(length: number): Buffer {
  const block = Buffer.allocUnsafeSlow(BLOCK_HEADROOM + length).subarray(BLOCK_HEADROOM)
  withHeadroom.add(block)
  return block
}

/**
 * Where a header of `headerBytes` can go in front of `block`, in the same memory: the
 * block's ArrayBuffer and the header's offset in it. Undefined when `block` was not
 * allocated here, or the header is larger than the room.
 */
export function headerRoom(block: Uint8Array, headerBytes: number): { buffer: ArrayBuffer; offset: number } | undefined {
  if (headerBytes > BLOCK_HEADROOM || !withHeadroom.has(block)) return undefined
  return { buffer: block.buffer as ArrayBuffer, offset: block.byteOffset - headerBytes }
}
