/**
 * The last step of a run, shared by both kinds: counting, mapping and batching each record
 * on its way to the caller.
 *
 * `delivered` is the position `ds.state()` reports, so it is counted here, at the moment a
 * record is handed over, and nowhere else: whatever a run reads ahead, queues or buffers, a
 * checkpoint taken after a batch covers exactly the records in the batches delivered.
 */
import type { TFRecordStats } from './stats.js'

/** Per-record transform applied on the consumer side, with the record's delivery number. */
export type Mapper<T> = (record: Uint8Array, n: number) => T

/** How one view delivers records: mapped, then grouped `batchSize` at a time. */
export interface DeliverySpec {
  mapper: Mapper<unknown>
  batchSize: number
  dropRemainder: boolean
}

export class Delivery {
  /** Records delivered in this epoch (a resumed run starts at the state's count). */
  delivered = 0
  private pending: unknown[] = []

  constructor(
    private readonly stats: TFRecordStats,
    private readonly spec: DeliverySpec,
  ) {}

  /** Counts and maps one record; the value to yield, or undefined while a batch is filling. */
  deliver(record: Uint8Array): IteratorResult<unknown> | undefined {
    const index = this.delivered++
    this.stats.records++
    this.stats.bytes += record.length
    const value = this.spec.mapper(record, index)
    const size = this.spec.batchSize
    if (size === 1) return { value, done: false }
    this.pending.push(value)
    if (this.pending.length < size) return undefined
    const batch = this.pending
    this.pending = []
    return { value: batch, done: false }
  }

  /** At the end of the records: the last partial batch (unless dropped), else undefined. */
  remainder(): IteratorResult<unknown> | undefined {
    const batch = this.pending
    this.pending = []
    return batch.length > 0 && !this.spec.dropRemainder ? { value: batch, done: false } : undefined
  }
}
