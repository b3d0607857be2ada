/**
 * The record shuffle buffer, and its replay for exact resume.
 *
 * Algorithm (tf.data's): fill `size` slots; then each record pulled replaces a uniformly
 * chosen slot, whose previous occupant is delivered; at the end of the input the remaining
 * slots are delivered in random order. Which slot is picked depends only on the generator and
 * on how many records have been pulled and whether the input has ended, never on record
 * contents. So a run can be replayed from counts alone: {@link replayShuffle} re-draws the
 * same picks over record numbers and tells which records are still in the buffer after `d`
 * deliveries. That is what keeps the resume state small (a count, plus records per shard)
 * instead of holding the buffer's contents.
 */
import type { Rng } from './random.js'

export class ShuffleBuffer<T> {
  readonly slots: (T | undefined)[] = []
  constructor(
    readonly size: number,
    private readonly rng: Rng,
  ) {}

  /** Adds `item`; returns the item delivered in exchange, or undefined while filling. */
  push(item: T): T | undefined {
    if (this.size === 0) return item
    if (this.slots.length < this.size) {
      this.slots.push(item)
      return undefined
    }
    const i = this.rng.int(this.size)
    const out = this.slots[i]
    this.slots[i] = item
    return out
  }

  /** After the input ends: one remaining item in random order, or undefined when empty. */
  drain(): T | undefined {
    const n = this.slots.length
    if (n === 0) return undefined
    const i = this.rng.int(n)
    const out = this.slots[i]
    this.slots[i] = this.slots[n - 1]
    this.slots.pop()
    return out
  }

  get length(): number {
    return this.slots.length
  }
}

export interface ShuffleReplay {
  /** Records pulled from the input when the `delivered`-th record was delivered. */
  pulled: number
  /** Record numbers (in pull order numbering) in each slot afterwards, slot order. */
  slots: number[]
  /** True if the input had ended (the buffer is draining). */
  draining: boolean
}

/**
 * Replays a buffer of `size` over records numbered 0, 1, ... (`total` of them, or unknown:
 * `undefined`) until `delivered` records came out, advancing `rng` exactly as the real run did.
 * Throws RangeError if `delivered` needs more records than `total`.
 */
export function replayShuffle(size: number, rng: Rng, delivered: number, total: number | undefined): ShuffleReplay {
  const end = total ?? Number.POSITIVE_INFINITY
  if (delivered > end) throw new RangeError(`resume: state says ${delivered} records were delivered, but the plan has ${end}`)
  const buffer = new ShuffleBuffer<number>(size, rng)
  let pulled = 0
  let out = 0
  while (out < delivered) {
    if (pulled < end) {
      if (buffer.push(pulled++) !== undefined) out++
    } else {
      buffer.drain()
      out++
    }
  }
  // the real run fills the buffer before its first delivery; after `delivered` deliveries it
  // has pulled exactly as many as the loop above, since each pull past the fill delivers one
  const slots = buffer.slots as number[]
  return { pulled, slots: [...slots], draining: pulled >= end && delivered > 0 }
}
