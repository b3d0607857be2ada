/**
 * Deterministic test bytes: AES-CTR keystream from a seed, so any size is produced natively
 * (no per-byte JS loop) and any two runs agree.
 */
import { createCipheriv, createHash } from 'node:crypto'

export function patternBytes(size: number, seed: string | number = 1): Buffer {
  const key = createHash('sha256').update(`sluice-test-${seed}`).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()])
}

/** A small seeded PRNG for choosing offsets in randomized tests. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
