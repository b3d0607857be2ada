/**
 * The bounded queue between a sequential run's producer (which reads shards and frames their
 * records) and its consumer (which pulls one record at a time). Records travel in the batches
 * the framer produced, so a step of the consumer is an index increment, not an allocation;
 * the bound is in payload bytes (`readAhead.queueBytes`): the producer waits when the queue
 * is full and is woken when the consumer has drained it to half, so reading stays ahead
 * without holding a whole shard in memory.
 */

export class RecordQueue {
  private batches: (Uint8Array[] | undefined)[] = []
  private head = 0
  private current: Uint8Array[] = []
  private ci = 0
  private queuedBytes = 0
  private ended = false
  private error: unknown
  private wakeConsumer: (() => void) | undefined
  private wakeProducer: (() => void) | undefined

  constructor(private readonly maxBytes: number) {}

  /** The producer finished (or failed with `error`): no more records will come. */
  get done(): boolean {
    return this.ended
  }

  get failure(): unknown {
    return this.error
  }

  /** The next queued record, or undefined if the queue is empty (see `done`). */
  take(): Uint8Array | undefined {
    let record: Uint8Array | undefined
    if (this.ci < this.current.length) record = this.current[this.ci++]
    while (record === undefined && this.head < this.batches.length) {
      this.current = this.batches[this.head]!
      this.batches[this.head++] = undefined
      this.ci = 0
      if (this.head > 1024) {
        this.batches = this.batches.slice(this.head)
        this.head = 0
      }
      if (this.current.length > 0) record = this.current[this.ci++]
    }
    if (record === undefined) {
      if (!this.ended) this.wakeProducer?.()
      return undefined
    }
    this.queuedBytes -= record.length
    if (this.queuedBytes < this.maxBytes / 2) this.wakeProducer?.()
    return record
  }

  /** Producer: queues a batch of records and wakes a waiting consumer. */
  push(records: Uint8Array[]): void {
    let bytes = 0
    for (let i = 0; i < records.length; i++) bytes += records[i]!.length
    this.queuedBytes += bytes
    this.batches.push(records)
    const wake = this.wakeConsumer
    if (wake) {
      this.wakeConsumer = undefined
      wake()
    }
  }

  /** Producer: resolves at once while there is room, else once the consumer drained to half. */
  async room(): Promise<void> {
    if (this.queuedBytes < this.maxBytes) return
    await new Promise<void>((resolve) => (this.wakeProducer = resolve))
    this.wakeProducer = undefined
  }

  /** Consumer: resolves when records were queued or the producer finished. */
  arrival(): Promise<void> {
    return new Promise<void>((resolve) => (this.wakeConsumer = resolve))
  }

  /** Producer: no more records (`error`: why not). */
  end(error?: unknown): void {
    if (error !== undefined) this.error = error
    this.ended = true
    this.wakeConsumer?.()
  }

  /** Drops what is queued and releases a waiting producer (the run stopped). */
  clear(): void {
    this.batches = []
    this.head = 0
    this.current = []
    this.ci = 0
    this.queuedBytes = 0
    this.wakeProducer?.()
  }
}
