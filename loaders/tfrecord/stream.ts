/**
 * `TFRecordStream`: what `ds.examples()`, `ds.sequenceExamples()` and `.batch(n)` return.
 *
 * A stream is a plain view: a recipe for delivery (how each record is mapped, how many go in
 * a batch) over a dataset that runs the iterations. It holds no reading state of its own, so
 * views are cheap to make and any number of them share the dataset's position and counters;
 * iterating one starts a run of the dataset with this view's recipe, ending the dataset's
 * previous run (one run at a time per dataset). The dataset is reached through the small {@link StreamSource}
 * interface, not its class, so this file and dataset.ts do not import each other.
 */
import type { DeliverySpec } from './delivery.js'
import type { TFRecordState } from './state.js'
import type { TFRecordStats } from './stats.js'

export interface BatchOptions {
  /** Drop a last batch smaller than `n`. Default false. */
  dropRemainder?: boolean
}

/** What a view needs of its dataset. */
export interface StreamSource {
  /** Starts a run delivering by `spec` (ending the dataset's previous run, if any). */
  iterate(spec: DeliverySpec): AsyncIterator<unknown>
  state(): TFRecordState
  stats(): TFRecordStats
}

/** An async-iterable view of the dataset: records, examples, or batches of either. */
export class TFRecordStream<T> implements AsyncIterable<T> {
  /** @internal */
  constructor(
    private readonly source: StreamSource,
    private readonly spec: DeliverySpec,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.source.iterate(this.spec) as AsyncIterator<T>
  }

  /** Groups `n` items per array (the last one shorter unless `dropRemainder`). */
  batch(n: number, options: BatchOptions = {}): TFRecordStream<T[]> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`batch: n must be a positive integer, got ${n}`)
    if (this.spec.batchSize !== 1) throw new TypeError('batch: this stream is already batched')
    return new TFRecordStream<T[]>(this.source, { mapper: this.spec.mapper, batchSize: n, dropRemainder: options.dropRemainder ?? false })
  }

  /** The resumable position after the items delivered so far (see TFRecordDataset.state). */
  state(): TFRecordState {
    return this.source.state()
  }

  stats(): TFRecordStats {
    return this.source.stats()
  }
}
