/**
 * The loader's only source of randomness: a seeded xoshiro128** generator.
 *
 * Everything random in an epoch (shard order, shuffle-buffer picks, the global permutation)
 * draws from its own stream derived from (seed, epoch, purpose), so the plan is a pure
 * function of those and of the shard list: every rank computes the same shard order without
 * talking to the others, and a resumed run replays exactly. Integer arithmetic only, so the
 * sequence is the same on every platform and Node version (Math.random is never used).
 */

export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** A stream for `seed` and any number of extra keys (epoch, purpose...). */
  constructor(seed: number, ...keys: (number | string)[]) {
    let h = hashString(`${seed}|${keys.join('|')}`)
    const next = (): number => {
      // splitmix32 to spread the hash over the four state words
      h = (h + 0x9e3779b9) | 0
      let z = h
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** Next 32-bit unsigned value. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** Uniform integer in `[0, n)`, n ≤ 2^32, without modulo bias (rejection). */
  int(n: number): number {
    if (n <= 1) return 0
    const limit = 4294967296 - (4294967296 % n)
    for (;;) {
      const x = this.nextU32()
      if (x < limit) return x % n
    }
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: { length: number; [i: number]: T }): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i]!
      items[i] = items[j]!
      items[j] = t
    }
  }

  /** The generator's state, for checkpoints and tests. */
  snapshot(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d]
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** 32-bit FNV-1a over the UTF-16 code units, then a final avalanche. */
export function hashString(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  return h >>> 0
}
