/**
 * A small count-min sketch of how often each block was asked for, for the disk tier's
 * admission policy (TinyLFU). Four rows of byte counters, saturating at 255, halved every
 * `sampleSize` increments so that old popularity fades and a new working set can get in.
 *
 * It lives in one process's memory: another process sharing the cache directory keeps its
 * own, which only makes its admission decisions less informed, never wrong. The table is
 * shared memory, so the disk writer thread reads the counts the reader's thread keeps; a
 * count that races with an estimate can be off by one, which an estimate tolerates.
 */

const ROWS = 4

export class FrequencySketch {
  private readonly table: Uint8Array
  private readonly mask: number
  private additions = 0

  /** `capacity`: about how many distinct items the cache holds. */
  constructor(capacity: number, private readonly sampleSize = Math.max(1024, capacity * 10), table?: Uint8Array) {
    let width = 64
    while (width < capacity * 4) width *= 2
    if (table) width = table.length / ROWS
    this.mask = width - 1
    this.table = table ?? new Uint8Array(new SharedArrayBuffer(width * ROWS))
  }

  /** Another thread's view of a sketch's counts (`sharedTable`), for estimates. */
  static overTable(table: Uint8Array): FrequencySketch {
    return new FrequencySketch(0, Number.POSITIVE_INFINITY, table)
  }

  /** The counts, in shared memory, for `overTable` on another thread. */
  get sharedTable(): Uint8Array {
    return this.table
  }

  /** Hash inputs: two independent 32-bit values of the item (block keys are hash-derived). */
  increment(h1: number, h2: number): void {
    let added = false
    for (let row = 0; row < ROWS; row++) {
      const i = row * (this.mask + 1) + (((h1 + Math.imul(row, h2)) >>> 0) & this.mask)
      if (this.table[i]! < 255) {
        this.table[i]!++
        added = true
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.age()
  }

  estimate(h1: number, h2: number): number {
    let min = 255
    for (let row = 0; row < ROWS; row++) {
      const v = this.table[row * (this.mask + 1) + (((h1 + Math.imul(row, h2)) >>> 0) & this.mask)]!
      if (v < min) min = v
    }
    return min
  }

  private age(): void {
    // Halving runs once per sampleSize accesses over a table of a few bytes per cached block.
    for (let i = 0; i < this.table.length; i++) this.table[i] = this.table[i]! >>> 1
    this.additions = 0
  }
}

/** Two 32-bit hashes of a block key: object-id bytes mixed with the block index. */
export function keyHashes(key: Uint8Array): [number, number] {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength)
  const index = view.getUint32(key.byteLength - 4)
  const h1 = (view.getUint32(0) ^ Math.imul(index, 0x9e3779b1)) >>> 0
  const h2 = ((view.getUint32(4) ^ Math.imul(index + 1, 0x85ebca6b)) | 1) >>> 0
  return [h1, h2]
}
