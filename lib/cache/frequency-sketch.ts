/**
 * A small count-min sketch of how often each block was asked for, for the disk tier's
 * admission policy (admission-policy.ts). Four rows of byte counters, saturating at 255,
 * halved every `sampleSize` increments so that old popularity fades and a new working set
 * can get in.
 *
 * The policy tells new data by its count (a block never seen counts 1 once filled), so an
 * overestimate is costly: a new block taken for one seen before is kept out as a loop's
 * would be. Hence 16 counters per row for each block the tier holds (the blocks a few passes
 * touch, not only those resident, share the table; at 4 per block a scan's new blocks were
 * estimated above a hot set the memory tier kept from the disk tier's counts), and only an
 * item's smallest counters grow (conservative update). 64 bytes per block of the tier: 16 MiB
 * for a terabyte of 4 MiB blocks.
 *
 * It lives in one process's memory: another process sharing the cache directory keeps its
 * own, which only makes its admission decisions less informed, never wrong. The table is
 * shared memory, so the disk writer thread reads the counts the reader's thread keeps; a
 * count that races with an estimate can be off by one, which an estimate tolerates.
 */

const ROWS = 4
const COUNTERS_PER_BLOCK = 16

export class FrequencySketch {
  private readonly table: Uint8Array
  private readonly width: number
  /** 32 - log2(width): a row's counter is the top bits of a multiplicative hash. */
  private readonly shift: number
  private additions = 0

  /** `capacity`: about how many distinct items the cache holds. */
  constructor(capacity: number, private readonly sampleSize = Math.max(1024, capacity * 10), table?: Uint8Array) {
    let width = 64
    while (width < capacity * COUNTERS_PER_BLOCK) width *= 2
    if (table) width = table.length / ROWS
    this.width = width
    this.shift = 32 - Math.log2(width)
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

  /**
   * Hash inputs: two independent 32-bit values of the item (block keys are hash-derived).
   * Only the item's smallest counters grow: a counter it shares with a more popular item is
   * already above its count, and raising it would only overestimate the items sharing it.
   */
  increment(h1: number, h2: number): void {
    const min = this.estimate(h1, h2)
    if (min === 255) return
    for (let row = 0; row < ROWS; row++) {
      const i = this.index(row, h1, h2)
      if (this.table[i] === min) this.table[i] = min + 1
    }
    if (++this.additions >= this.sampleSize) this.age()
  }

  estimate(h1: number, h2: number): number {
    let min = 255
    for (let row = 0; row < ROWS; row++) {
      const v = this.table[this.index(row, h1, h2)]!
      if (v < min) min = v
    }
    return min
  }

  /**
   * A row's counter for an item. The top bits of a multiplicative hash of h1 + row * h2, not
   * its low bits: two items whose hashes share their low bits would otherwise share a counter
   * in every row, and each would be estimated as often as the other was asked for.
   */
  private index(row: number, h1: number, h2: number): number {
    return row * this.width + (Math.imul((h1 + Math.imul(row, h2)) | 0, 0x9e3779b1) >>> this.shift)
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
