/**
 * Which directory a block lives in when the disk tier has several: weighted rendezvous
 * (highest-random-weight) hashing of the block key. Every directory scores every key with a
 * hash seeded by the directory's path, scaled by its bound; a block's order is the
 * directories by score, its home the first.
 *
 * Why this rule: it needs no table (a restart with the same directories computes the same
 * home for every block, so nothing is looked up or moved), the list's order does not matter,
 * and a directory added or removed changes only the blocks whose home it becomes or was:
 * every other block keeps its home. Weighting by the bound gives each directory its share
 * of the blocks, so directories of different sizes fill at the same pace. The order past the
 * home is where a block goes while its home is failing, and where a read looks next.
 *
 * The score is `w / -ln(u)` with `u` uniform in (0, 1) from a 32-bit MurmurHash3 of the key
 * seeded by the directory: the highest score of n directories falls on directory i with
 * probability w_i / Σw (Schindelhauer and Schomaker's weighted form).
 */
import { resolve } from 'node:path'

export interface PlacedDir {
  path: string
  maxBytes: number
}

export class Placement {
  private readonly seeds: number[]
  private readonly weights: number[]

  constructor(dirs: readonly PlacedDir[]) {
    // Resolved, so `cache` and `./cache/` place blocks alike.
    this.seeds = dirs.map((d) => murmur3(Buffer.from(resolve(d.path), 'utf8'), 0x5eed))
    this.weights = dirs.map((d) => d.maxBytes)
  }

  /** Indices of the directories in the key's order, its home first. */
  order(key: Uint8Array): number[] {
    const n = this.seeds.length
    const scores = new Array<number>(n)
    const order = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const u = (murmur3(key, this.seeds[i]!) + 0.5) / 0x1_0000_0000
      scores[i] = this.weights[i]! / -Math.log(u)
      // Insertion sort: a handful of directories.
      let j = i
      while (j > 0 && scores[order[j - 1]!]! < scores[i]!) {
        order[j] = order[j - 1]!
        j--
      }
      order[j] = i
    }
    return order
  }
}

/** MurmurHash3 (x86, 32-bit) of `bytes` with `seed`. */
export function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0
  const words = bytes.length >>> 2
  for (let w = 0; w < words; w++) {
    const i = w << 2
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = words << 2
  const rest = bytes.length & 3
  if (rest > 0) {
    let k = 0
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | bytes[tail + i]!
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
  }
  h ^= bytes.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
