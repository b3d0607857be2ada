/**
 * The dataset a training feeder iterates: `tfrecords(reader, source, options)`.
 *
 * The dataset is the composition root of the loader: it validates the options once, and
 * owns the one run (run.ts) at a time that an iteration drives, plus the counters of the runs
 * before it. Everything it offers as a stream (iterating records, `batch`, `state`, `stats`)
 * goes through a {@link TFRecordStream} view over that run slot, the same kind of view that
 * `examples()` and `sequenceExamples()` return; so the dataset is a stream by composition,
 * not by inheriting from one. It also offers random access to records through the indexes.
 */
import type { ObjectReader } from '../../lib/index.js'
import type { DeliverySpec, Mapper } from './delivery.js'
import {
  decodeExample,
  decodeSequenceExample,
  resolveDecodeOptions,
  type DecodeOptions,
  type Example,
  type SequenceExample,
} from './example-codec.js'
import { indexOptionsOf, resolveOptions, type ResolvedOptions, type TFRecordOptions } from './options.js'
import type { PlanItem } from './plan.js'
import { recordAt, recordIndex, type RecordIndex } from './record-index.js'
import { Run } from './run.js'
import type { TFRecordSource } from './sources.js'
import type { TFRecordState } from './state.js'
import { addStats, emptyStats, type TFRecordStats } from './stats.js'
import { TFRecordStream, type BatchOptions, type StreamSource } from './stream.js'

/**
 * Records of TFRecord shards, verified, optionally shuffled and sharded across ranks.
 * Iterate it for `Uint8Array` payloads; `.examples()` for decoded `tf.train.Example`s.
 */
export class TFRecordDataset implements AsyncIterable<Uint8Array> {
  /** @internal */
  readonly options: ResolvedOptions
  private readonly reader: ObjectReader
  private readonly runs: RunSlot
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
    this.options = resolveOptions(options)
    this.runs = new RunSlot(reader, source, this.options)
    this.records = this.view(identity)
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.records[Symbol.asyncIterator]()
  }

  /** Groups `n` records per array (the last one shorter unless `dropRemainder`). */
  batch(n: number, options: BatchOptions = {}): TFRecordStream<Uint8Array[]> {
    return this.records.batch(n, options)
  }

  /** Decoded `tf.train.Example`s (feature name → feature). */
  examples(options: DecodeOptions = {}): TFRecordStream<Example> {
    const opts = resolveDecodeOptions(options, 'examples')
    return this.view((record) => decodeExample(record, opts))
  }

  /** Decoded `tf.train.SequenceExample`s (context and feature lists). */
  sequenceExamples(options: DecodeOptions = {}): TFRecordStream<SequenceExample> {
    const opts = resolveDecodeOptions(options, 'sequenceExamples')
    return this.view((record) => decodeSequenceExample(record, opts))
  }

  /**
   * Where the current (or last) iteration stands: pass it back as `resume` to continue with
   * exactly the records not yet delivered, in the order an uninterrupted run would have used.
   * Before any iteration it is the starting point (the `resume` given, or the epoch's start).
   */
  state(): TFRecordState {
    return this.runs.state()
  }

  /** Counters over every iteration of this dataset. */
  stats(): TFRecordStats {
    return this.runs.stats()
  }

  /** The record index of one shard (built by one pass, or from memory / the cache directory). */
  index(url: string): Promise<RecordIndex> {
    return recordIndex(this.reader, url, indexOptionsOf(this.options))
  }

  /** Record number `i` of `url`, by one ranged read. */
  recordAt(url: string, i: number): Promise<Uint8Array> {
    return recordAt(this.reader, url, i, indexOptionsOf(this.options))
  }

  /** Stops the current iteration (if any) and releases its handles. */
  async close(): Promise<void> {
    await this.runs.close()
  }

  private view<T>(mapper: Mapper<T>): TFRecordStream<T> {
    return new TFRecordStream<T>(this.runs, { mapper, batchSize: 1, dropRemainder: false })
  }
}

/** The dataset's current run, and the counters of the runs it replaced. */
class RunSlot implements StreamSource {
  private run: Run | undefined
  private readonly totals: TFRecordStats = emptyStats()

  constructor(
    private readonly reader: ObjectReader,
    private readonly source: TFRecordSource,
    private readonly options: ResolvedOptions,
  ) {}

  /** Starts a run; one at a time per dataset (a new one ends the previous). */
  iterate(spec: DeliverySpec): Run {
    const prev = this.run
    if (prev) {
      void prev.stop()
      addStats(this.totals, prev.stats)
    }
    this.run = new Run(this.reader, this.source, this.options, spec)
    return this.run
  }

  state(): TFRecordState {
    if (this.run?.planKey !== undefined) return this.run.state()
    return this.options.resume ?? { v: 1, epoch: this.options.epoch, delivered: 0, counts: [], plan: '' }
  }

  stats(): TFRecordStats {
    const out = { ...this.totals }
    if (this.run) addStats(out, this.run.stats)
    return out
  }

  async close(): Promise<void> {
    await this.run?.stop()
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
