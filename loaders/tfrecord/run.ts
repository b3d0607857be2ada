/**
 * One iteration of a dataset: it resolves the source, computes the epoch's plan (plan.ts),
 * checks a resume state against it, and hands the epoch to the run of the plan's kind —
 * SequentialRun (whole shards or record ranges, shuffle buffer) or GlobalRun (one permutation
 * of every record). Planning is asynchronous and starts on the first `next()`; once a
 * sequential run exists, `next()` answers synchronously whenever a record is queued.
 *
 * Positions are counted at the consumer: `state()` is "records delivered" plus the record
 * counts of finished shards, which with the plan and the shuffle replay pins the rest of the
 * epoch exactly (see state.ts, shuffle-buffer.ts).
 */
import { ClosedError, type ObjectInfo, type ObjectReader } from '../../lib/index.js'
import { Delivery, type Mapper } from './delivery.js'
import { GlobalRun } from './global-run.js'
import type { ResolvedOptions } from './options.js'
import { planFiles, planGlobal, planRecords } from './plan.js'
import { recordIndex, type RecordIndex } from './record-index.js'
import { SequentialRun, WAIT, type RunContext } from './sequential-run.js'
import { resolveSources, type TFRecordSource } from './sources.js'
import { planFingerprint, type TFRecordState } from './state.js'
import { newStats, type TFRecordStats } from './stats.js'

export class Run implements AsyncIterator<unknown> {
  readonly stats: TFRecordStats = newStats()
  planKey: string | undefined
  private readonly ctx: RunContext
  private started: Promise<void> | undefined
  private epoch: SequentialRun | GlobalRun | undefined
  private stopped = false

  constructor(
    reader: ObjectReader,
    private readonly source: TFRecordSource,
    private readonly options: ResolvedOptions,
    mapper: Mapper<unknown>,
    batchSize: number,
    dropRemainder: boolean,
  ) {
    this.ctx = { reader, options, stats: this.stats, delivery: new Delivery(this.stats, mapper, batchSize, dropRemainder) }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  state(): TFRecordState {
    return {
      v: 1,
      epoch: this.options.epoch,
      delivered: this.ctx.delivery.delivered,
      counts: this.epoch?.knownCounts() ?? [],
      plan: this.planKey ?? '',
    }
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.started === undefined) this.started = this.begin()
    if (this.epoch instanceof SequentialRun) {
      try {
        const r = this.epoch.tryNext()
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
      if (this.epoch === undefined) throw new ClosedError('TFRecord iteration')
      return await this.epoch.next()
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
    await this.epoch?.stop()
  }

  private async begin(): Promise<void> {
    const o = this.options
    const shards = await resolveSources(this.ctx.reader, this.source, { signal: o.signal })
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
    if (this.stopped) return
    if (mode === 'files') {
      this.epoch = new SequentialRun(this.ctx, planFiles(shards, settings), resume)
      return
    }
    const indexes = await this.indexesOf(shards)
    this.epoch = mode === 'records' ? new SequentialRun(this.ctx, planRecords(shards, indexes, settings), resume) : new GlobalRun(this.ctx, planGlobal(shards, indexes, settings), resume)
    if (this.stopped) await this.epoch.stop()
  }

  private async indexesOf(shards: ObjectInfo[]): Promise<Map<string, RecordIndex>> {
    const map = new Map<string, RecordIndex>()
    const o = this.options
    const opts = {
      compression: o.compression,
      verify: o.verify,
      onCorrupt: o.onCorrupt,
      maxRecordBytes: o.maxRecordBytes,
      signal: o.signal,
      onBuild: () => this.stats.indexesBuilt++,
    }
    // a few at once: building is I/O bound and the block reader bounds its own fetches
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < shards.length) {
        const shard = shards[next++]!
        map.set(shard.url, await recordIndex(this.ctx.reader, shard, opts))
      }
    }
    await Promise.all(Array.from({ length: Math.min(4, shards.length) }, worker))
    return map
  }
}
