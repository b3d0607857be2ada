/**
 * The consumer's last step, the same in every kind of run: counting a record as delivered,
 * mapping it (payload, Example, ...) and grouping the results into batches. Kept apart so the
 * sequential and the global-shuffle runs deliver, count and batch in exactly one way.
 */
import type { TFRecordStats } from './stats.js'

/** Per-record transform applied on the consumer side, with the record's delivery number. */
export type Mapper<T> = (record: Uint8Array, n: number) => T

export class Delivery {
  /** Records delivered in this epoch (resumed runs start at the state's count). */
  delivered = 0
  private pendingBatch: unknown[] = []

  constructor(
    private readonly stats: TFRecordStats,
    private readonly mapper: Mapper<unknown>,
    private readonly batchSize: number,
    private readonly dropRemainder: boolean,
  ) {}

  /** Counts and maps one record; the value to yield, or undefined while a batch is filling. */
  deliver(record: Uint8Array): IteratorResult<unknown> | undefined {
    const index = this.delivered++
    this.stats.records++
    this.stats.bytes += record.length
    const value = this.mapper(record, index)
    if (this.batchSize === 1) return { value, done: false }
    this.pendingBatch.push(value)
    if (this.pendingBatch.length < this.batchSize) return undefined
    const batch = this.pendingBatch
    this.pendingBatch = []
    return { value: batch, done: false }
  }

  /** At the end of the records: the last partial batch (unless dropped), else undefined. */
  remainder(): IteratorResult<unknown> | undefined {
    const batch = this.pendingBatch
    this.pendingBatch = []
    return batch.length > 0 && !this.dropRemainder ? { value: batch, done: false } : undefined
  }
}
