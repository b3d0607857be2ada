/**
 * The dataset a training feeder iterates: `tfrecords(reader, source, options)`.
 *
 * One iteration is a run. A run resolves the source, computes the epoch's plan, and then has
 * two halves joined by a bounded queue: a producer that opens shards (the next ones early,
 * with prefetch hints, so a shard boundary never stalls), frames their chunks and enqueues
 * batches of records; and the consumer side, which pulls records one at a time through the
 * shuffle buffer to the caller. The consumer's step is synchronous whenever a record is
 * queued, so a small record costs a few hundred nanoseconds, not an event-loop turn; the time
 * it does spend waiting on an empty queue is measured (`stats().waitMs`).
 *
 * Positions are counted at the consumer: `state()` is "records delivered" plus the record
 * counts of finished shards, which with the plan and the shuffle replay pins the rest of the
 * epoch exactly (see state.ts, shuffle-buffer.ts). Resuming replays the shuffle picks, re-reads
 * only the shards still holding buffered records, and continues.
 */
import { ClosedError } from '../../lib/index.js'
import type { ObjectHandle, ObjectInfo, ObjectReader } from '../../lib/index.js'
import {
  decodeExample,
  decodeSequenceExample,
  resolveDecodeOptions,
  type DecodeOptions,
  type Example,
  type SequenceExample,
} from './example-codec.js'
import { resolveOptions, type ResolvedOptions, type TFRecordOptions } from './options.js'
import { planFiles, planGlobal, planRecords, shardOf, type GlobalPlan, type Plan, type PlanItem, type SequentialPlan } from './plan.js'
import { Rng } from './random.js'
import { readRecordAt, recordAt, recordIndex, type RecordIndex } from './record-index.js'
import { replayShuffle, ShuffleBuffer } from './shuffle-buffer.js'
import { readShard, resolveCompression, type ShardReadOptions } from './shard-reader.js'
import { resolveSources, type TFRecordSource } from './sources.js'
import { planFingerprint, type TFRecordState } from './state.js'

/** Framing bytes around each record's payload: length, its CRC, and the payload's CRC. */
const RECORD_OVERHEAD_BYTES = 16
/** Cross-shard hints go out in pieces of about one coalesced request (sluice's default), or a quarter of readAhead.bytes. */
const HINT_PIECE_BYTES = 8 * 1024 * 1024

export interface TFRecordStats {
  /** Records delivered to the caller. */
  records: number
  /** Payload bytes delivered. */
  bytes: number
  /** Corrupt regions skipped (`onCorrupt: 'skip'`): one per failed check. */
  corruptSkipped: number
  /** Shards opened / finished by the reader. */
  shardsOpened: number
  shardsDone: number
  /** Milliseconds the caller spent waiting for the next record (queue empty). */
  waitMs: number
  /** Record indexes built by a pass over a shard (not found in memory or the cache directory). */
  indexesBuilt: number
}

export interface BatchOptions {
  /** Drop a last batch smaller than `n`. Default false. */
  dropRemainder?: boolean
}

/** Per-record transform applied on the consumer side, with the record's delivery number. */
type Mapper<T> = (record: Uint8Array, n: number) => T

/** An async-iterable view of the dataset: records, examples, or batches of either. */
export class TFRecordStream<T> implements AsyncIterable<T> {
  /** @internal */
  constructor(
    protected readonly dataset: TFRecordDataset,
    private readonly mapper: Mapper<T>,
    private readonly batchSize: number,
    private readonly dropRemainder: boolean,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.dataset._start(this.mapper, this.batchSize, this.dropRemainder) as unknown as AsyncIterator<T>
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
export class TFRecordDataset extends TFRecordStream<Uint8Array> {
  /** @internal */
  readonly options: ResolvedOptions
  private readonly reader: ObjectReader
  private readonly source: TFRecordSource
  private run: Run | undefined
  private readonly totals: TFRecordStats = {
    records: 0,
    bytes: 0,
    corruptSkipped: 0,
    shardsOpened: 0,
    shardsDone: 0,
    waitMs: 0,
    indexesBuilt: 0,
  }

  constructor(reader: ObjectReader, source: TFRecordSource, options: TFRecordOptions = {}) {
    super(undefined as unknown as TFRecordDataset, identity, 1, false)
    ;(this as unknown as { dataset: TFRecordDataset }).dataset = this
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
  override state(): TFRecordState {
    if (this.run?.planKey !== undefined) return this.run.state()
    return this.options.resume ?? { v: 1, epoch: this.options.epoch, delivered: 0, counts: [], plan: this.run?.planKey ?? '' }
  }

  /** Counters over every iteration of this dataset. */
  override stats(): TFRecordStats {
    const live = this.run?.stats
    if (!live) return { ...this.totals }
    const out = { ...this.totals }
    for (const k of Object.keys(out) as (keyof TFRecordStats)[]) out[k] += live[k]
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
      for (const k of Object.keys(this.totals) as (keyof TFRecordStats)[]) this.totals[k] += prev.stats[k]
    }
    this.run = new Run(this.reader, this.source, this.options, mapper as Mapper<unknown>, batchSize, dropRemainder)
    return this.run
  }
}

function identity(record: Uint8Array): Uint8Array {
  return record
}

// -------------------------------------------------------------------------------------------------

/** Sentinel: the consumer must wait for the producer. */
const WAIT = Symbol('wait')

/** One iteration over the epoch. */
class Run implements AsyncIterator<unknown> {
  readonly stats: TFRecordStats = { records: 0, bytes: 0, corruptSkipped: 0, shardsOpened: 0, shardsDone: 0, waitMs: 0, indexesBuilt: 0 }
  planKey: string | undefined
  private plan: Plan | undefined
  private started: Promise<void> | undefined
  private stopped = false
  private failure: unknown

  // consumer side
  private delivered = 0
  private pulled = 0
  private shuffle: ShuffleBuffer<Uint8Array> | undefined
  private copyIntoBuffer = false
  private draining = false
  /** Resume: pulls below `replayUntil` only fill the slots listed in `replaySlots`. */
  private replayUntil = 0
  private replaySlots: Map<number, number> | undefined
  private readonly batchSize: number
  private pendingBatch: unknown[] = []

  // queue between producer and consumer
  private batches: Uint8Array[][] = []
  private batchHead = 0
  private current: Uint8Array[] = []
  private ci = 0
  private queuedBytes = 0
  private producerDone = false
  private wakeConsumer: (() => void) | undefined
  private wakeProducer: (() => void) | undefined

  // per plan item: records read (known once the item is finished)
  private readonly counts: number[] = []
  private readonly opened = new Map<number, Promise<ObjectHandle>>()
  /** Bytes of each upcoming shard (by plan position) already hinted to the cache. */
  private readonly hinted = new Map<number, number>()

  // global mode
  private globalReads = new Map<number, Promise<Uint8Array>>()
  private globalHandles = new Map<number, Promise<ObjectHandle>>()

  constructor(
    private readonly reader: ObjectReader,
    private readonly source: TFRecordSource,
    private readonly options: ResolvedOptions,
    private readonly mapper: Mapper<unknown>,
    batchSize: number,
    private readonly dropRemainder: boolean,
  ) {
    this.batchSize = batchSize
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  state(): TFRecordState {
    return {
      v: 1,
      epoch: this.options.epoch,
      delivered: this.delivered,
      counts: this.knownCounts(),
      plan: this.planKey ?? '',
    }
  }

  private knownCounts(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.counts.length && this.counts[i] !== undefined; i++) out.push(this.counts[i]!)
    return out
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.started === undefined) this.started = this.begin()
    if (this.plan !== undefined && this.plan.kind === 'sequential') {
      try {
        const r = this.tryNext()
        if (r !== WAIT) return Promise.resolve(r)
      } catch (err) {
        void this.stop()
        return Promise.reject(err)
      }
    }
    return this.nextSlow()
  }

  private async nextSlow(): Promise<IteratorResult<unknown>> {
    try {
      await this.started
      if (this.plan!.kind === 'global') return await this.nextGlobal()
      for (;;) {
        const r = this.tryNext()
        if (r !== WAIT) return r
        const t0 = performance.now()
        await new Promise<void>((resolve) => (this.wakeConsumer = resolve))
        this.stats.waitMs += performance.now() - t0
      }
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async return(): Promise<IteratorResult<unknown>> {
    await this.stop()
    return { value: undefined, done: true }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.wakeProducer?.()
    this.batches = []
    this.current = []
    const closing: Promise<unknown>[] = []
    for (const p of this.opened.values()) closing.push(p.then((handle) => handle.close()).catch(() => undefined))
    for (const p of this.globalHandles.values()) closing.push(p.then((h) => h.close()).catch(() => undefined))
    this.opened.clear()
    this.globalHandles.clear()
    await Promise.all(closing)
  }

  // ------------------------------------------------------------------------------------------
  // setup

  private async begin(): Promise<void> {
    const o = this.options
    const signal = o.signal
    const shards = await resolveSources(this.reader, this.source, { signal })
    const shuffle = o.shuffle
    const settings = {
      seed: shuffle?.seed,
      shuffleShards: shuffle?.shards ?? false,
      epoch: o.epoch,
      index: o.shard.index,
      count: o.shard.count,
    }
    // explicit 'files' with more ranks than shards leaves some ranks empty, as asked
    const mode: 'files' | 'records' | 'global' = shuffle?.global ? 'global' : o.shard.mode === 'auto' ? (shards.length >= o.shard.count ? 'files' : 'records') : o.shard.mode
    this.planKey = planFingerprint({
      shards,
      epoch: o.epoch,
      mode,
      seed: shuffle?.seed,
      buffer: mode === 'global' ? 0 : shuffle?.buffer ?? 0,
      shuffleShards: settings.shuffleShards,
      index: o.shard.index,
      count: o.shard.count,
      onCorrupt: o.onCorrupt,
    })
    const resume = o.resume
    if (resume !== undefined && resume.plan !== this.planKey) {
      throw new RangeError(
        'tfrecords: resume state belongs to a different plan (shards, their versions, seed, shuffle, epoch or rank changed)',
      )
    }
    if (mode === 'files') {
      this.plan = planFiles(shards, settings)
    } else {
      const indexes = await this.indexesOf(shards)
      this.plan = mode === 'records' ? planRecords(shards, indexes, settings) : planGlobal(shards, indexes, settings)
    }
    if (this.plan.kind === 'global') {
      if (resume !== undefined) {
        if (resume.delivered > this.plan.order.length) throw new RangeError('tfrecords: resume state is past the end of the plan')
        this.delivered = resume.delivered
      }
      return
    }
    this.setupSequential(this.plan, resume)
  }

  private async indexesOf(shards: ObjectInfo[]): Promise<Map<string, RecordIndex>> {
    const map = new Map<string, RecordIndex>()
    const opts = {
      compression: this.options.compression,
      verify: this.options.verify,
      onCorrupt: this.options.onCorrupt,
      maxRecordBytes: this.options.maxRecordBytes,
      signal: this.options.signal,
      onBuild: () => this.stats.indexesBuilt++,
    }
    // a few at once: building is I/O bound and the block reader bounds its own fetches
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < shards.length) {
        const shard = shards[next++]!
        map.set(shard.url, await recordIndex(this.reader, shard, opts))
      }
    }
    await Promise.all(Array.from({ length: Math.min(4, shards.length) }, worker))
    return map
  }

  private setupSequential(plan: SequentialPlan, resume: TFRecordState | undefined): void {
    const o = this.options
    const size = o.shuffle?.buffer ?? 0
    const rng = new Rng(o.shuffle?.seed ?? 0, o.epoch, 'buffer')
    this.shuffle = o.shuffle !== undefined && size > 0 ? new ShuffleBuffer<Uint8Array>(size, rng) : undefined
    this.copyIntoBuffer = this.shuffle !== undefined && o.shuffle!.copy
    for (let i = 0; i < plan.items.length; i++) {
      const c = plan.items[i]!.count
      if (c !== undefined) this.counts[i] = c
    }
    let startItem = 0
    if (resume !== undefined && resume.delivered > 0) {
      // counts known from the state (finished items) or from the plan (records mode)
      resume.counts.forEach((c, i) => {
        if (this.counts[i] !== undefined && this.counts[i] !== c) throw new RangeError('tfrecords: resume state does not match the plan')
        this.counts[i] = c
      })
      const known = this.knownCounts()
      const total = known.length === plan.items.length ? known.reduce((a, b) => a + b, 0) : undefined
      const replay = replayShuffle(this.shuffle ? size : 0, rng, resume.delivered, total)
      this.delivered = resume.delivered
      this.stats.records = 0
      // earliest record still owed: a buffered one, or the next unpulled one
      const needed = replay.slots.length > 0 ? Math.min(replay.pulled, ...replay.slots) : replay.pulled
      let prefix = 0
      while (startItem < known.length && prefix + known[startItem]! <= needed) prefix += known[startItem++]!
      this.pulled = prefix
      this.replayUntil = replay.pulled
      if (this.shuffle) {
        this.replaySlots = new Map(replay.slots.map((p, slot) => [p, slot]))
        this.shuffle.slots.length = replay.slots.length
      }
    }
    void this.produce(plan, startItem)
  }

  // ------------------------------------------------------------------------------------------
  // consumer (sequential plans)

  /** Takes the next queued record, or undefined if the queue is empty. */
  private take(): Uint8Array | undefined {
    if (this.ci < this.current.length) return this.current[this.ci++]
    while (this.batchHead < this.batches.length) {
      this.current = this.batches[this.batchHead]!
      this.batches[this.batchHead++] = undefined as unknown as Uint8Array[]
      this.ci = 0
      if (this.batchHead > 1024) {
        this.batches = this.batches.slice(this.batchHead)
        this.batchHead = 0
      }
      if (this.current.length > 0) {
        const r = this.current[this.ci++]!
        return r
      }
    }
    return undefined
  }

  private tryNext(): IteratorResult<unknown> | typeof WAIT {
    if (this.stopped) throw new ClosedError('TFRecord iteration')
    for (;;) {
      const record = this.nextRecord()
      if (record === WAIT) return WAIT
      if (record === undefined) return this.remainder() ?? { value: undefined, done: true }
      const out = this.deliver(record, this.delivered)
      if (out) return out
    }
  }

  /** Counts and maps one record; the value to yield, or undefined while a batch is filling. */
  private deliver(record: Uint8Array, index: number): IteratorResult<unknown> | undefined {
    this.delivered++
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
  private remainder(): IteratorResult<unknown> | undefined {
    const batch = this.pendingBatch
    this.pendingBatch = []
    return batch.length > 0 && !this.dropRemainder ? { value: batch, done: false } : undefined
  }

  /** Next record to deliver through the shuffle buffer; undefined at the end; WAIT to await. */
  private nextRecord(): Uint8Array | undefined | typeof WAIT {
    const shuffle = this.shuffle
    for (;;) {
      if (this.draining) return shuffle!.drain()
      const record = this.take()
      if (record === undefined) {
        if (this.failure !== undefined) throw this.failure
        if (!this.producerDone) {
          this.wakeProducer?.()
          return WAIT
        }
        if (shuffle === undefined) return undefined
        this.draining = true
        continue
      }
      this.queuedBytes -= record.length
      if (this.queuedBytes < this.options.readAhead.queueBytes / 2) this.wakeProducer?.()
      const p = this.pulled++
      if (p < this.replayUntil) {
        const slot = this.replaySlots?.get(p)
        if (slot !== undefined) shuffle!.slots[slot] = this.copyIntoBuffer ? record.slice() : record
        continue
      }
      if (shuffle === undefined) return record
      const out = shuffle.push(this.copyIntoBuffer ? record.slice() : record)
      if (out !== undefined) return out
    }
  }

  // ------------------------------------------------------------------------------------------
  // producer (sequential plans)

  private readOptions(): ShardReadOptions {
    const o = this.options
    return {
      verify: o.verify,
      maxRecordBytes: o.maxRecordBytes,
      onCorrupt: o.onCorrupt,
      compression: o.compression,
      signal: o.signal,
      onSkip: () => this.stats.corruptSkipped++,
    }
  }

  private async produce(plan: SequentialPlan, startItem: number): Promise<void> {
    const readOptions = this.readOptions()
    try {
      for (let k = startItem; k < plan.items.length && !this.stopped; k++) {
        const item = plan.items[k]!
        const handle = await this.openItem(plan, k)
        this.openAhead(plan, k)
        let count = 0
        let fileOrdinal = 0
        const filter = item.first !== undefined && item.bytes === undefined
        try {
          // Sniffed only now: reading an upcoming shard would start its read-ahead early.
          const compression = await resolveCompression(handle, this.options.compression)
          // Compressed shards report positions in the inflated stream: hint the next shards now.
          const end = compression === 'none' ? (item.bytes?.end ?? handle.size) : undefined
          if (end === undefined) this.hintAhead(plan, k, 0)
          for await (const batch of readShard(handle, readOptions, compression, item.bytes)) {
            if (this.stopped) break
            if (end !== undefined && batch.records.length > 0) {
              const i = batch.records.length - 1
              this.hintAhead(plan, k, end - (batch.offsets[i]! + batch.records[i]!.length + RECORD_OVERHEAD_BYTES))
            }
            let records = batch.records
            if (filter) {
              const lo = item.first! - fileOrdinal
              const hi = item.end! - fileOrdinal
              fileOrdinal += records.length
              records = records.slice(Math.max(0, lo), Math.max(0, hi))
              if (records.length === 0) {
                if (hi <= 0) break
                continue
              }
            }
            count += records.length
            this.enqueue(records)
            if (this.queuedBytes >= this.options.readAhead.queueBytes) {
              await new Promise<void>((resolve) => (this.wakeProducer = resolve))
              this.wakeProducer = undefined
            }
          }
        } finally {
          this.opened.delete(k)
          this.hinted.delete(k)
          await handle.close().catch(() => undefined)
        }
        if (this.stopped) return
        if (item.count !== undefined && count !== item.count) {
          throw new RangeError(`tfrecords: ${item.shard.url} yielded ${count} records where its index has ${item.count}; the shard changed?`)
        }
        this.counts[k] = count
        this.stats.shardsDone++
      }
    } catch (err) {
      this.failure = err
    } finally {
      this.producerDone = true
      this.wakeConsumer?.()
    }
  }

  private enqueue(records: Uint8Array[]): void {
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

  private openItem(plan: SequentialPlan, k: number): Promise<ObjectHandle> {
    let p = this.opened.get(k)
    if (!p) {
      const item = plan.items[k]!
      p = (async () => {
        // Open at the listed version, without another metadata request per shard and epoch;
        // if the shard changed since, its reads fail with ERR_SLUICE_OBJECT_CHANGED.
        const handle = await this.reader.open(item.shard, { signal: this.options.signal })
        this.stats.shardsOpened++
        if (this.stopped) {
          await handle.close()
          throw new ClosedError('TFRecord iteration')
        }
        return handle
      })()
      p.catch(() => undefined)
      this.opened.set(k, p)
    }
    return p
  }

  /** Opens the next `readAhead.shards` shards of the plan, so a boundary costs no metadata round trip. */
  private openAhead(plan: SequentialPlan, k: number): void {
    const n = Math.min(this.options.readAhead.shards, plan.items.length - k - 1)
    for (let j = k + 1; j <= k + n; j++) if (!this.opened.has(j)) void this.openItem(plan, j).catch(() => undefined)
  }

  /**
   * Keeps `readAhead.bytes` of read-ahead running across the end of shard k, which has
   * `remaining` bytes left to read: as the reader closes in on the end, the next shards' first
   * bytes are hinted a piece at a time, so their fetches are staggered like the ones inside a
   * shard. Hinting them all when a shard begins (as this once did) puts a burst of requests on
   * the link that share its bandwidth and land together, long after the first was needed: the
   * consumer stalled at every shard boundary (benchmark: 0.5-1 s per boundary).
   */
  private hintAhead(plan: SequentialPlan, k: number, remaining: number): void {
    const ra = this.options.readAhead
    let want = ra.bytes - remaining
    for (let j = k + 1; j <= k + ra.shards && j < plan.items.length && want > 0; j++) {
      const item = plan.items[j]!
      const start = item.bytes?.start ?? 0
      const length = (item.bytes?.end ?? item.shard.size) - start
      const target = Math.min(want, length)
      const done = this.hinted.get(j) ?? 0
      want -= length
      // In pieces, except the shard's tail.
      if (target - done < Math.min(HINT_PIECE_BYTES, Math.ceil(ra.bytes / 4)) && target < length) continue
      if (target <= done) continue
      this.hinted.set(j, target)
      const opened = this.opened.get(j) ?? this.openItem(plan, j)
      void opened.then(
        (handle) => {
          if (this.stopped) return
          const reached = handle.prefetch(start + done, target - done) - start
          // Cut short by the reader's prefetch budget: offer the rest again with the next piece.
          if (reached < target && this.hinted.get(j) === target) this.hinted.set(j, Math.max(done, reached))
        },
        () => undefined,
      )
    }
  }

  // ------------------------------------------------------------------------------------------
  // global shuffle: ranged reads in permutation order, a window of them in flight

  private async nextGlobal(): Promise<IteratorResult<unknown>> {
    const plan = this.plan as GlobalPlan
    for (;;) {
      if (this.stopped) throw new ClosedError('TFRecord iteration')
      if (this.delivered >= plan.order.length) {
        const last = this.remainder()
        if (last) return last
        await this.stop()
        return { value: undefined, done: true }
      }
      const pos = this.delivered
      const window = Math.min(plan.order.length, pos + this.options.readAhead.records)
      for (let j = pos; j < window; j++) if (!this.globalReads.has(j)) this.globalReads.set(j, this.readGlobal(plan, j))
      const pending = this.globalReads.get(pos)!
      const t0 = performance.now()
      const record = await pending
      this.stats.waitMs += performance.now() - t0
      this.globalReads.delete(pos)
      const out = this.deliver(record, pos)
      if (out) return out
    }
  }

  private readGlobal(plan: GlobalPlan, j: number): Promise<Uint8Array> {
    const g = plan.order[j]!
    const s = shardOf(plan.starts, g)
    const index = plan.indexes[s]!
    const i = g - plan.starts[s]!
    let h = this.globalHandles.get(s)
    if (!h) {
      h = this.reader.open(index.url, { signal: this.options.signal }).then((handle) => {
        this.stats.shardsOpened++
        return handle
      })
      h.catch(() => undefined)
      this.globalHandles.set(s, h)
    }
    const p = h.then((handle) => readRecordAt(handle, index.offsets[i]!, index.lengths[i]!, this.options.verify))
    p.catch(() => undefined)
    return p
  }
}

/**
 * Records of TFRecord shards in `source` (a URL, list, prefix or glob), read through `reader`.
 * Throws TypeError / RangeError at once for bad options; reading errors reject the iteration.
 */
export function tfrecords(reader: ObjectReader, source: TFRecordSource, options: TFRecordOptions = {}): TFRecordDataset {
  return new TFRecordDataset(reader, source, options)
}

export type { PlanItem }
