/**
 * TFRecord's checksum: CRC32C (Castagnoli) of a byte range, "masked" so that a CRC stored
 * inside data that is itself checksummed does not produce a degenerate value.
 *
 * The CRC itself is native (`@node-rs/crc32`, hardware CRC32C where the CPU has it): a table
 * loop in JavaScript runs at a tenth of the speed and would be the bottleneck of the reader.
 * Only the 32-bit mask arithmetic happens here.
 */
import { crc32c } from '@node-rs/crc32'

const MASK_DELTA = 0xa282ead8

/** TensorFlow's mask: rotate right by 15 bits, add 0xa282ead8, modulo 2^32. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0
}

/** Inverse of {@link maskCrc}. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}

/** Masked CRC32C of `bytes`, as stored after a TFRecord's length and after its data. */
export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc(crc32c(bytes))
}

export { crc32c }
