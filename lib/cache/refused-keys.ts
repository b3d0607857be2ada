/**
 * The blocks a process refused because of the protected share (admission-policy.ts, rule 1),
 * each with the `mainBelow` of that moment, so that one asked for again can displace the
 * main blocks that stood in its way. A small hash table of fixed size, one slot per hash
 * with a fingerprint: a later refusal that lands in the same slot overwrites it, which only
 * makes that block wait for the sketch (rule 3) as every block did before this table.
 *
 * Like the frequency sketch it lives in one process's memory, in shared memory so that the
 * disk writer thread, where fills may run, reads and writes the same table; fills run in one
 * place at a time (that thread or the reader's), so slots need no atomics.
 */

export class RefusedKeys {
  private readonly below: Float64Array
  private readonly fingerprints: Uint32Array
  private readonly mask: number

  /** `capacity`: about how many blocks the tier holds. */
  constructor(capacity: number, buffer?: SharedArrayBuffer) {
    let slots = 64
    while (slots < capacity / 2) slots *= 2
    if (buffer) slots = buffer.byteLength / 12
    this.mask = slots - 1
    const memory = buffer ?? new SharedArrayBuffer(slots * 12)
    this.below = new Float64Array(memory, 0, slots)
    this.fingerprints = new Uint32Array(memory, slots * 8, slots)
  }

  /** Another thread's view of the same table (`sharedBuffer`). */
  static over(buffer: SharedArrayBuffer): RefusedKeys {
    return new RefusedKeys(0, buffer)
  }

  get sharedBuffer(): SharedArrayBuffer {
    return this.below.buffer as SharedArrayBuffer
  }

  /** Hash inputs as for the sketch (keyHashes); `h2` is odd, so a used slot is never 0. */
  remember(h1: number, h2: number, mainBelow: number): void {
    const slot = h1 & this.mask
    this.fingerprints[slot] = h2 >>> 0
    this.below[slot] = mainBelow
  }

  /** The `mainBelow` remembered for this block, forgotten as it is returned; undefined if none. */
  take(h1: number, h2: number): number | undefined {
    const slot = h1 & this.mask
    if (this.fingerprints[slot] !== h2 >>> 0) return undefined
    this.fingerprints[slot] = 0
    return this.below[slot]
  }
}
