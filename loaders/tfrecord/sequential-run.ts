/**
 * One iteration over a sequential plan (files or records mode): shards read in plan order,
 * records passed through the shuffle buffer to the caller.
 *
 * Two halves joined by a {@link RecordQueue}: the reader opens each plan item (the next ones
 * early, with prefetch hints from the {@link ShardHinter}, so a shard boundary never stalls),
 * frames its chunks and queues batches of records; the consumer takes records one at a time
 * through the shuffle buffer. The consumer's step is synchronous whenever a record is queued;
 * the time it spends waiting on an empty queue is measured (`stats().waitMs`).
 *
 * Positions are counted at the consumer: the state is "records delivered" plus the record
 * counts of finished items, which with the plan and the shuffle replay pins the rest of the
 * epoch exactly (state.ts, shuffle-buffer.ts). Resuming replays the shuffle picks, re-reads
 * only the items still holding buffered records, and continues.
 */
import { ClosedError } from '../../lib/index.js'
import type { ObjectReader } from '../../lib/index.js'
import type { Delivery } from './delivery.js'
import { FRAME_OVERHEAD } from './framing.js'
import type { ResolvedOptions } from './options.js'
import { RecordSelector } from './pieces.js'
import type { SequentialPlan } from './plan.js'
import { Rng } from './random.js'
import { RecordQueue, WAIT } from './record-queue.js'
import { ShardHinter } from './shard-hinter.js'
import { readShard, resolveCompression, type ShardReadOptions } from './shard-reader.js'
import { replayShuffle, ShuffleBuffer } from './shuffle-buffer.js'
import type { TFRecordState } from './state.js'
import type { TFRecordStats } from './stats.js'

export class SequentialRun {
  private stopped = false
  private readonly queue: RecordQueue
  private readonly hinter: ShardHinter
  /** Per plan item: its record count, known once the item is finished (or from the plan). */
  private readonly itemCounts: number[] = []
  /** The plan item the reader starts at (later than 0 when resuming). */
  private readonly startItem: number

  private readonly shuffle: ShuffleBuffer<Uint8Array> | undefined
  private readonly copyIntoBuffer: boolean
  private draining = false
  /** Records taken from the queue (numbered across the plan, from `startItem`'s first). */
  private pulled = 0
  /** Resume: pulls below `replayUntil` only fill the slots listed in `replaySlots`. */
  private replayUntil = 0
  private replaySlots: Map<number, number> | undefined

  /** Throws RangeError if `resume` does not fit the plan. */
  constructor(
    reader: ObjectReader,
    private readonly options: ResolvedOptions,
    private readonly stats: TFRecordStats,
    private readonly delivery: Delivery,
    private readonly plan: SequentialPlan,
    resume: TFRecordState | undefined,
  ) {
    const o = options
    this.queue = new RecordQueue(o.readAhead.queueBytes)
    this.hinter = new ShardHinter(reader, plan.items, o.readAhead, o.signal, () => stats.shardsOpened++)
    const size = o.shuffle?.buffer ?? 0
    const rng = new Rng(o.shuffle?.seed ?? 0, o.epoch, 'buffer')
    this.shuffle = o.shuffle !== undefined && size > 0 ? new ShuffleBuffer<Uint8Array>(size, rng) : undefined
    this.copyIntoBuffer = this.shuffle !== undefined && o.shuffle!.copy
    for (let i = 0; i < plan.items.length; i++) {
      const c = plan.items[i]!.count
      if (c !== undefined) this.itemCounts[i] = c
    }
    let startItem = 0
    if (resume !== undefined && resume.delivered > 0) {
      // counts known from the state (finished items) or from the plan (records mode)
      resume.counts.forEach((c, i) => {
        if (this.itemCounts[i] !== undefined && this.itemCounts[i] !== c) throw new RangeError('tfrecords: resume state does not match the plan')
        this.itemCounts[i] = c
      })
      const known = this.counts()
      const total = known.length === plan.items.length ? known.reduce((a, b) => a + b, 0) : undefined
      const replay = replayShuffle(this.shuffle ? size : 0, rng, resume.delivered, total)
      delivery.delivered = resume.delivered
      stats.records = 0
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
    this.startItem = startItem
  }

  /** Starts the reader. */
  start(): void {
    void this.produce()
  }

  /** Record counts of the items finished so far, in plan order (the state's `counts`). */
  counts(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.itemCounts.length && this.itemCounts[i] !== undefined; i++) out.push(this.itemCounts[i]!)
    return out
  }

  next(): Promise<IteratorResult<unknown>> {
    try {
      const r = this.tryNext()
      if (r !== WAIT) return Promise.resolve(r)
    } catch (err) {
      void this.stop()
      return Promise.reject(err)
    }
    return this.nextAfterWait()
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.queue.close()
    await this.hinter.close()
  }

  // ------------------------------------------------------------------------------------------
  // consumer

  private async nextAfterWait(): Promise<IteratorResult<unknown>> {
    try {
      for (;;) {
        const t0 = performance.now()
        await this.queue.arrival()
        this.stats.waitMs += performance.now() - t0
        const r = this.tryNext()
        if (r !== WAIT) return r
      }
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  private tryNext(): IteratorResult<unknown> | typeof WAIT {
    if (this.stopped) throw new ClosedError('TFRecord iteration')
    for (;;) {
      const record = this.nextRecord()
      if (record === WAIT) return WAIT
      if (record === undefined) return this.delivery.remainder() ?? { value: undefined, done: true }
      const out = this.delivery.deliver(record)
      if (out) return out
    }
  }

  /** Next record to deliver through the shuffle buffer; undefined at the end; WAIT to await. */
  private nextRecord(): Uint8Array | undefined | typeof WAIT {
    const shuffle = this.shuffle
    for (;;) {
      if (this.draining) return shuffle!.drain()
      const record = this.queue.take()
      if (record === WAIT) return WAIT
      if (record === undefined) {
        if (shuffle === undefined) return undefined
        this.draining = true
        continue
      }
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
  // reader

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

  private async produce(): Promise<void> {
    const items = this.plan.items
    const readOptions = this.readOptions()
    let failure: unknown
    try {
      for (let k = this.startItem; k < items.length && !this.stopped; k++) {
        const item = items[k]!
        const handle = await this.hinter.open(k)
        this.hinter.openAhead(k)
        let count = 0
        // from a byte offset, reading starts at the first range's first record
        const selector = new RecordSelector(item.ranges, item.bytes === undefined ? 0 : item.ranges[0]![0])
        try {
          // Sniffed only now: reading an upcoming shard would start its read-ahead early.
          const compression = await resolveCompression(handle, this.options.compression)
          // Compressed shards report positions in the inflated stream: hint the next shards now.
          const end = compression === 'none' ? (item.bytes?.end ?? handle.size) : undefined
          if (end === undefined) void this.hinter.hintAhead(k, 0)
          for await (const batch of readShard(handle, readOptions, compression, item.bytes)) {
            if (this.stopped) break
            if (end !== undefined && batch.records.length > 0) {
              const i = batch.records.length - 1
              void this.hinter.hintAhead(k, end - (batch.offsets[i]! + batch.records[i]!.length + FRAME_OVERHEAD))
            }
            const records = selector.select(batch.records)
            if (records.length === 0) {
              if (selector.done) break
              continue
            }
            count += records.length
            if (!this.queue.push(records)) await this.queue.room()
          }
        } finally {
          this.hinter.release(k)
          await handle.close().catch(() => undefined)
        }
        if (this.stopped) return
        if (item.count !== undefined && count !== item.count) {
          throw new RangeError(`tfrecords: ${item.shard.url} yielded ${count} records where its index has ${item.count}; the shard changed?`)
        }
        this.itemCounts[k] = count
        this.stats.shardsDone++
      }
    } catch (err) {
      failure = err
    } finally {
      this.queue.end(failure)
    }
  }
}
