/**
 * Deterministic test bytes: AES-CTR keystream from a seed, so any size is produced natively
 * (no per-byte JS loop) and any two runs agree.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { seededRandom } from '../../lib/testing/seeded-random.js'

export function patternBytes(size: number, seed: string | number = 1): Buffer {
  const key = createHash('sha256').update(`sluice-test-${seed}`).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()])
}

/** A small seeded PRNG for choosing offsets in randomized tests. */
export const prng = seededRandom
