/**
 * One epoch over a sequential plan (whole shards or contiguous record ranges, per rank):
 * a producer that opens shards (the next ones early, with prefetch hints: shard-hinter.ts),
 * frames their chunks and queues batches of records (record-queue.ts), and a consumer that
 * pulls records one at a time through the shuffle buffer to the caller. The consumer's step
 * is synchronous whenever a record is queued, so a small record costs a few hundred
 * nanoseconds, not an event-loop turn; the time it does spend waiting on an empty queue is
 * measured (`stats.waitMs`).
 *
 * Resuming replays the shuffle buffer's picks (shuffle-buffer.ts): reading restarts at the
 * first shard still holding a record owed, pulls below the replay point only refill the
 * buffer slots that were occupied, and delivery continues where the state left off.
 */
import { ClosedError, type ObjectReader } from '../../lib/index.js'
import type { Delivery } from './delivery.js'
import type { ResolvedOptions } from './options.js'
import type { SequentialPlan } from './plan.js'
import { Rng } from './random.js'
import { RecordQueue } from './record-queue.js'
import { ShardHinter } from './shard-hinter.js'
import { readShard, resolveCompression, type ShardReadOptions } from './shard-reader.js'
import { replayShuffle, ShuffleBuffer } from './shuffle-buffer.js'
import type { TFRecordState } from './state.js'
import type { TFRecordStats } from './stats.js'

/** Framing bytes around each record's payload: length, its CRC, and the payload's CRC. */
const RECORD_OVERHEAD_BYTES = 16

/** Sentinel: the consumer must wait for the producer. */
export const WAIT = Symbol('wait')

export interface RunContext {
  reader: ObjectReader
  options: ResolvedOptions
  stats: TFRecordStats
  delivery: Delivery
}

export class SequentialRun {
  private stopped = false
  private readonly queue: RecordQueue
  private readonly hinter: ShardHinter
  private pulled = 0
  private shuffle: ShuffleBuffer<Uint8Array> | undefined
  private copyIntoBuffer = false
  private draining = false
  /** Resume: pulls below `replayUntil` only fill the slots listed in `replaySlots`. */
  private replayUntil = 0
  private replaySlots: Map<number, number> | undefined
  /** Per plan item: records read (known once the item is finished, or from the plan). */
  private readonly counts: number[] = []

  constructor(
    private readonly ctx: RunContext,
    private readonly plan: SequentialPlan,
    resume: TFRecordState | undefined,
  ) {
    const o = ctx.options
    this.queue = new RecordQueue(o.readAhead.queueBytes)
    this.hinter = new ShardHinter(ctx.reader, plan, o, () => ctx.stats.shardsOpened++, () => this.stopped)
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
      ctx.delivery.delivered = resume.delivered
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
    void this.produce(startItem)
  }

  /** Record counts of the plan items known so far, in order (for the state). */
  knownCounts(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.counts.length && this.counts[i] !== undefined; i++) out.push(this.counts[i]!)
    return out
  }

  // ---- consumer

  /** The next result if one is ready now, WAIT if the producer must be awaited. */
  tryNext(): IteratorResult<unknown> | typeof WAIT {
    if (this.stopped) throw new ClosedError('TFRecord iteration')
    for (;;) {
      const record = this.nextRecord()
      if (record === WAIT) return WAIT
      if (record === undefined) return this.ctx.delivery.remainder() ?? { value: undefined, done: true }
      const out = this.ctx.delivery.deliver(record)
      if (out) return out
    }
  }

  async next(): Promise<IteratorResult<unknown>> {
    for (;;) {
      const r = this.tryNext()
      if (r !== WAIT) return r
      const t0 = performance.now()
      await this.queue.arrival()
      this.ctx.stats.waitMs += performance.now() - t0
    }
  }

  /** Next record to deliver through the shuffle buffer; undefined at the end; WAIT to await. */
  private nextRecord(): Uint8Array | undefined | typeof WAIT {
    const shuffle = this.shuffle
    for (;;) {
      if (this.draining) return shuffle!.drain()
      const record = this.queue.take()
      if (record === undefined) {
        if (this.queue.failure !== undefined) throw this.queue.failure
        if (!this.queue.done) return WAIT
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

  // ---- producer

  private readOptions(): ShardReadOptions {
    const o = this.ctx.options
    return {
      verify: o.verify,
      maxRecordBytes: o.maxRecordBytes,
      onCorrupt: o.onCorrupt,
      compression: o.compression,
      signal: o.signal,
      onSkip: () => this.ctx.stats.corruptSkipped++,
    }
  }

  private async produce(startItem: number): Promise<void> {
    const readOptions = this.readOptions()
    const items = this.plan.items
    try {
      for (let k = startItem; k < items.length && !this.stopped; k++) {
        const item = items[k]!
        const handle = await this.hinter.open(k)
        this.hinter.openAhead(k)
        let count = 0
        let fileOrdinal = 0
        const filter = item.first !== undefined && item.bytes === undefined
        try {
          // Sniffed only now: reading an upcoming shard would start its read-ahead early.
          const compression = await resolveCompression(handle, this.ctx.options.compression)
          // Compressed shards report positions in the inflated stream: hint the next shards now.
          const end = compression === 'none' ? (item.bytes?.end ?? handle.size) : undefined
          if (end === undefined) this.hinter.hintAhead(k, 0)
          for await (const batch of readShard(handle, readOptions, compression, item.bytes)) {
            if (this.stopped) break
            if (end !== undefined && batch.records.length > 0) {
              const i = batch.records.length - 1
              this.hinter.hintAhead(k, end - (batch.offsets[i]! + batch.records[i]!.length + RECORD_OVERHEAD_BYTES))
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
            this.queue.push(records)
            await this.queue.room()
          }
        } finally {
          this.hinter.finished(k)
          await handle.close().catch(() => undefined)
        }
        if (this.stopped) return
        if (item.count !== undefined && count !== item.count) {
          throw new RangeError(`tfrecords: ${item.shard.url} yielded ${count} records where its index has ${item.count}; the shard changed?`)
        }
        this.counts[k] = count
        this.ctx.stats.shardsDone++
      }
      this.queue.end()
    } catch (err) {
      this.queue.end(err)
    } finally {
      if (!this.queue.done) this.queue.end()
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.queue.clear()
    await this.hinter.closeAll()
  }
}
