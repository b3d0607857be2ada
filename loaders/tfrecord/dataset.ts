/**
 * The dataset a training feeder iterates: `tfrecords(reader, source, options)`.
 *
 * TFRecordDataset holds the source, the options and the counters of every iteration; each
 * iteration is a Run (run.ts), one at a time per dataset (a new one ends the previous).
 * TFRecordStream is a view over a dataset: what each record becomes (payload, Example,
 * SequenceExample) and how many go in a batch. The dataset iterates as a stream of payloads,
 * and `examples()`, `sequenceExamples()` and `batch()` return other views of the same
 * dataset, so every view shares its position (`state()`) and its counters.
 */
import type { ObjectReader } from '../../lib/index.js'
import type { Mapper } from './delivery.js'
import {
  decodeExample,
  decodeSequenceExample,
  resolveDecodeOptions,
  type DecodeOptions,
  type Example,
  type SequenceExample,
} from './example-codec.js'
import { resolveOptions, type ResolvedOptions, type TFRecordOptions } from './options.js'
import type { PlanItem } from './plan.js'
import { recordAt, recordIndex, type RecordIndex } from './record-index.js'
import { Run } from './run.js'
import type { TFRecordSource } from './sources.js'
import type { TFRecordState } from './state.js'
import { addStats, newStats, type TFRecordStats } from './stats.js'

export type { TFRecordStats } from './stats.js'

export interface BatchOptions {
  /** Drop a last batch smaller than `n`. Default false. */
  dropRemainder?: boolean
}

/** An async-iterable view of a dataset: records, examples, or batches of either. */
export class TFRecordStream<T> implements AsyncIterable<T> {
  /** @internal */
  constructor(
    private readonly dataset: TFRecordDataset,
    private readonly mapper: Mapper<T>,
    private readonly batchSize: number,
    private readonly dropRemainder: boolean,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.dataset._start(this.mapper, this.batchSize, this.dropRemainder) as AsyncIterator<T>
  }

  /** Groups `n` items per array (the last one shorter unless `dropRemainder`). */
  batch(n: number, options: BatchOptions = {}): TFRecordStream<T[]> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`batch: n must be a positive integer, got ${n}`)
    if (this.batchSize !== 1) throw new TypeError('batch: this stream is already batched')
    return new TFRecordStream<T[]>(this.dataset, this.mapper as unknown as Mapper<T[]>, n, options.dropRemainder ?? false)
  }

  /** The resumable position after the items delivered so far (see TFRecordDataset.state). */
  state(): TFRecordState {
    return this.dataset.state()
  }

  stats(): TFRecordStats {
    return this.dataset.stats()
  }
}

/**
 * Records of TFRecord shards, verified, optionally shuffled and sharded across ranks.
 * Iterate it for `Uint8Array` payloads; `.examples()` for decoded `tf.train.Example`s.
 */
export class TFRecordDataset implements AsyncIterable<Uint8Array> {
  /** @internal */
  readonly options: ResolvedOptions
  private readonly reader: ObjectReader
  private readonly source: TFRecordSource
  private run: Run | undefined
  /** Counters of the iterations before the current one. */
  private readonly totals = newStats()
  private readonly records: TFRecordStream<Uint8Array>

  constructor(reader: ObjectReader, source: TFRecordSource, options: TFRecordOptions = {}) {
    if (reader === null || typeof reader !== 'object' || typeof reader.open !== 'function' || typeof reader.list !== 'function') {
      throw new TypeError('tfrecords: reader must be an ObjectReader (for example a BlockReader)')
    }
    const sources = typeof source === 'string' ? [source] : source
    if (!Array.isArray(sources) || sources.length === 0 || !sources.every((s) => typeof s === 'string' && s.length > 0)) {
      throw new TypeError('tfrecords: source must be a URL, prefix or glob string, or a non-empty array of them')
    }
    this.reader = reader
    this.source = source
    this.options = resolveOptions(options)
    this.records = new TFRecordStream(this, identity, 1, false)
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.records[Symbol.asyncIterator]()
  }

  /** Groups `n` payloads per array (the last one shorter unless `dropRemainder`). */
  batch(n: number, options: BatchOptions = {}): TFRecordStream<Uint8Array[]> {
    return this.records.batch(n, options)
  }

  /** Decoded `tf.train.Example`s (feature name → feature). */
  examples(options: DecodeOptions = {}): TFRecordStream<Example> {
    const opts = resolveDecodeOptions(options, 'examples')
    return new TFRecordStream(this, (record) => decodeExample(record, opts), 1, false)
  }

  /** Decoded `tf.train.SequenceExample`s (context and feature lists). */
  sequenceExamples(options: DecodeOptions = {}): TFRecordStream<SequenceExample> {
    const opts = resolveDecodeOptions(options, 'sequenceExamples')
    return new TFRecordStream(this, (record) => decodeSequenceExample(record, opts), 1, false)
  }

  /**
   * Where the current (or last) iteration stands: pass it back as `resume` to continue with
   * exactly the records not yet delivered, in the order an uninterrupted run would have used.
   * Before any iteration it is the starting point (the `resume` given, or the epoch's start).
   */
  state(): TFRecordState {
    if (this.run?.planKey !== undefined) return this.run.state()
    return this.options.resume ?? { v: 1, epoch: this.options.epoch, delivered: 0, counts: [], plan: this.run?.planKey ?? '' }
  }

  /** Counters over every iteration of this dataset. */
  stats(): TFRecordStats {
    const out = { ...this.totals }
    if (this.run) addStats(out, this.run.stats)
    return out
  }

  /** The record index of one shard (built by one pass, or from memory / the cache directory). */
  index(url: string): Promise<RecordIndex> {
    return recordIndex(this.reader, url, this.indexOptions())
  }

  /** Record number `i` of `url`, by one ranged read. */
  recordAt(url: string, i: number): Promise<Uint8Array> {
    return recordAt(this.reader, url, i, this.indexOptions())
  }

  /** Stops the current iteration (if any) and releases its handles. */
  async close(): Promise<void> {
    await this.run?.stop()
  }

  /** @internal */
  indexOptions() {
    const o = this.options
    return { compression: o.compression, verify: o.verify, onCorrupt: o.onCorrupt, maxRecordBytes: o.maxRecordBytes, signal: o.signal }
  }

  /** @internal Starts a run; one at a time per dataset (a new one ends the previous). */
  _start<T>(mapper: Mapper<T>, batchSize: number, dropRemainder: boolean): Run {
    if (this.run) {
      const prev = this.run
      void prev.stop()
      addStats(this.totals, prev.stats)
    }
    this.run = new Run(this.reader, this.source, this.options, mapper as Mapper<unknown>, batchSize, dropRemainder)
    return this.run
  }
}

function identity(record: Uint8Array): Uint8Array {
  return record
}

/**
 * Records of TFRecord shards in `source` (a URL, list, prefix or glob), read through `reader`.
 * Throws TypeError / RangeError at once for bad options; reading errors reject the iteration.
 */
export function tfrecords(reader: ObjectReader, source: TFRecordSource, options: TFRecordOptions = {}): TFRecordDataset {
  return new TFRecordDataset(reader, source, options)
}

export type { PlanItem }
