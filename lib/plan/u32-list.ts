/**
 * A growable list of unsigned 32-bit integers over one Uint32Array: what a read plan stores
 * per step and per block, so a plan of millions of steps costs four bytes per number instead
 * of a JS object (or a boxed array slot) each. It grows by half again when full, can drop a
 * consumed prefix (a plan that is extended epoch after epoch keeps only what is still ahead)
 * and can be trimmed to its length, so `byteLength` is the memory the plan really holds.
 */

/** The value a list uses for "none": no next use, no last occurrence. */
export const NONE = 0xffffffff

export class U32List {
  private data: Uint32Array
  length = 0

  constructor(capacity = 16) {
    this.data = new Uint32Array(Math.max(1, capacity))
  }

  get(i: number): number {
    return this.data[i]!
  }

  set(i: number, value: number): void {
    this.data[i] = value
  }

  push(value: number): void {
    if (this.length === this.data.length) this.resize(Math.ceil(this.data.length * 1.5) + 16)
    this.data[this.length++] = value
  }

  /** Appends `count` copies of `value`. */
  fill(value: number, count: number): void {
    if (this.length + count > this.data.length) this.resize(Math.ceil((this.length + count) * 1.5))
    this.data.fill(value, this.length, this.length + count)
    this.length += count
  }

  /** Drops the first `count` entries (the rest moves to the front). */
  dropFront(count: number): void {
    this.data.copyWithin(0, count, this.length)
    this.length -= count
  }

  /** Gives back unused capacity beyond a sixteenth of the length. */
  trim(): void {
    if (this.data.length > this.length + Math.ceil(this.length / 16) + 16) this.resize(this.length)
  }

  /** Bytes held, capacity included. */
  get byteLength(): number {
    return this.data.byteLength
  }

  private resize(capacity: number): void {
    const next = new Uint32Array(Math.max(1, capacity))
    next.set(this.data.subarray(0, this.length))
    this.data = next
  }
}
