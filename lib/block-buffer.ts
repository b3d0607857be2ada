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
 * front of it, so it is never written before; it takes the copy. A fetch worker transfers
 * such a block's whole buffer and the main thread adopts it, room and all.
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

/**
 * A block ready to hand to another thread: its whole buffer (header room included, so the
 * transfer moves it without a copy) and where the block starts in it. Undefined for a view
 * not allocated here.
 */
export function handOver(block: Uint8Array): { buffer: ArrayBuffer; offset: number } | undefined {
  return withHeadroom.has(block) ? { buffer: block.buffer as ArrayBuffer, offset: BLOCK_HEADROOM } : undefined
}

/**
 * The block over a buffer handed over whole from another thread, starting at `offset`. A
 * block that starts at BLOCK_HEADROOM came from allocBlock there, and the room in front of
 * it is again known to be private.
 */
export function adoptBlock(buffer: ArrayBuffer, offset: number): Buffer {
  const block = Buffer.from(buffer, offset)
  if (offset === BLOCK_HEADROOM) withHeadroom.add(block)
  return block
}
