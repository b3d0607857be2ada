/**
 * Watches one handle's reads and says how far ahead to fetch. Reads that continue where the
 * last one ended double the read-ahead window (up to a cap); a seek resets it to nothing, so
 * random access costs no speculative bytes.
 */

export class ReadPattern {
  private nextPosition = -1
  private window = 0

  constructor(
    private readonly minWindowBytes: number,
    private readonly maxWindowBytes: number,
  ) {}

  /** Records a read and returns the read-ahead window (bytes after its end) to keep filled. */
  observe(position: number, length: number): number {
    // A first read at offset 0 is how sequential readers start: begin with the minimum window.
    if (position === this.nextPosition || (position === 0 && this.nextPosition === -1)) {
      this.window = Math.min(this.maxWindowBytes, Math.max(this.minWindowBytes, this.window * 2))
    } else {
      this.window = 0
    }
    this.nextPosition = position + length
    return this.window
  }

  /** For readers known to be sequential (chunks, streams): start with a full window. */
  assumeSequential(position: number): void {
    this.nextPosition = position
    this.window = this.maxWindowBytes
  }
}
