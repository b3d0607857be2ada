/**
 * How far the body of one in-flight fetch has arrived, so a reader can take the front of a
 * block before its end lands. A cold read of a few kilobytes (a format sniff, the first
 * record of a shard) then costs one round trip plus those kilobytes, not a whole 4 MiB block
 * at the speed of one connection.
 *
 * The bytes it hands out are final: the response was checked (version, range) before its
 * body was read, and a retry after a cut-off body refills only the blocks that had not
 * completed, into new buffers, leaving earlier ones as they were.
 */
import type { BlockProgress } from '../source/source.js'

interface Waiter {
  until: number
  resolve: () => void
}

export class Arrival {
  /** Object offset of `blocks[0]`. */
  private start = 0
  private blocks: readonly Uint8Array[] = []
  /** Object offset up to which the bytes are final. */
  private end = 0
  private waiters: Waiter[] = []
  private settled = false

  constructor(private readonly blockSize: number) {}

  /** The progress callback to hand to the fetch. */
  readonly progress: BlockProgress = (start, blocks, filled) => {
    this.start = start
    this.blocks = blocks
    this.end = start + filled
    if (this.waiters.length === 0) return
    const still: Waiter[] = []
    for (const w of this.waiters) (w.until <= this.end ? w.resolve() : still.push(w))
    this.waiters = still
  }

  /** Resolves once bytes up to `until` have arrived, or the fetch is over (check `view` then). */
  reached(until: number): Promise<void> {
    if (this.settled || until <= this.end) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ until, resolve }))
  }

  /** Releases every waiter: the fetch finished or failed. */
  settle(): void {
    this.settled = true
    for (const w of this.waiters) w.resolve()
    this.waiters = []
  }

  /** The arrived bytes of `[position, end)` (at least up to `need`), or undefined if not there yet. */
  view(position: number, end: number, need: number): Uint8Array | undefined {
    if (this.end < need || position < this.start) return undefined
    const index = Math.floor((position - this.start) / this.blockSize)
    const block = this.blocks[index]
    if (block === undefined) return undefined
    const blockStart = this.start + index * this.blockSize
    return block.subarray(position - blockStart, Math.min(end, this.end, blockStart + block.length) - blockStart)
  }
}
