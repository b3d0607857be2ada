/**
 * The queue between a sequential run's reader and its consumer: framed records waiting to be
 * delivered, bounded in bytes.
 *
 * The reader pushes whole batches (one per chunk, as the framer made them) and the consumer
 * takes records one at a time, synchronously whenever one is queued: a small record then
 * costs a few hundred nanoseconds, not an event-loop turn. The bound is on payload bytes
 * (`readAhead.queueBytes`) because that is what the queue holds alive; once full, the reader
 * waits until the consumer has taken it below half, so it resumes in strides rather than
 * once per record. The queue also carries the reader's end, and its failure, which the
 * consumer sees only after the records read before it: those are good and are delivered.
 */

/** Returned by `take()` while the queue is empty and the reader is still going. */
export const WAIT: unique symbol = Symbol('wait')

/** Batches pulled before the array of batches is compacted (keeps `take()` O(1) amortised). */
const COMPACT_AFTER = 1024

export class RecordQueue {
  private batches: (Uint8Array[] | undefined)[] = []
  private head = 0
  private current: Uint8Array[] = []
  private ci = 0
  private bytes = 0
  private ended = false
  private failure: unknown
  private wakeConsumer: (() => void) | undefined
  private wakeProducer: (() => void) | undefined

  constructor(private readonly maxBytes: number) {}

  // -- reader side

  /** Queues one batch; false once the queue is full (then await `room()` before the next). */
  push(records: Uint8Array[]): boolean {
    let bytes = 0
    for (let i = 0; i < records.length; i++) bytes += records[i]!.length
    this.bytes += bytes
    this.batches.push(records)
    const wake = this.wakeConsumer
    if (wake) {
      this.wakeConsumer = undefined
      wake()
    }
    return this.bytes < this.maxBytes
  }

  /** Resolves once the consumer has taken the queue below half its bound, or it was closed. */
  async room(): Promise<void> {
    await new Promise<void>((resolve) => (this.wakeProducer = resolve))
    this.wakeProducer = undefined
  }

  /** No more records will come; `failure`, if given, is thrown once the queue runs empty. */
  end(failure?: unknown): void {
    this.failure = failure
    this.ended = true
    const wake = this.wakeConsumer
    this.wakeConsumer = undefined
    wake?.()
  }

  // -- consumer side

  /**
   * The next record; WAIT if none is queued yet (await `arrival()`), undefined once the reader
   * ended and everything was taken. Throws the reader's failure in place of the end.
   */
  take(): Uint8Array | undefined | typeof WAIT {
    const record = this.shift()
    if (record === undefined) {
      if (this.failure !== undefined) throw this.failure
      if (this.ended) return undefined
      this.wakeProducer?.()
      return WAIT
    }
    this.bytes -= record.length
    if (this.bytes < this.maxBytes / 2) this.wakeProducer?.()
    return record
  }

  /** Resolves when records are pushed or the reader ends. */
  arrival(): Promise<void> {
    return new Promise<void>((resolve) => (this.wakeConsumer = resolve))
  }

  /** Drops what is queued and releases a reader waiting for room (the run is stopping). */
  close(): void {
    this.wakeProducer?.()
    this.batches = []
    this.head = 0
    this.current = []
    this.ci = 0
  }

  private shift(): Uint8Array | undefined {
    if (this.ci < this.current.length) return this.current[this.ci++]
    while (this.head < this.batches.length) {
      this.current = this.batches[this.head]!
      this.batches[this.head++] = undefined
      this.ci = 0
      if (this.head > COMPACT_AFTER) {
        this.batches = this.batches.slice(this.head)
        this.head = 0
      }
      if (this.current.length > 0) return this.current[this.ci++]
    }
    return undefined
  }
}
