/**
 * One epoch over a global-shuffle plan: every record of every shard in one permutation,
 * read with ranged reads at the offsets the record indexes give, a window of
 * `readAhead.records` reads in flight ahead of the consumer. Each shard is opened once, on
 * its first record; a record's bytes are verified as they are read.
 */
import { ClosedError, type ObjectHandle } from '../../lib/index.js'
import { shardOf, type GlobalPlan } from './plan.js'
import { readRecordAt } from './record-index.js'
import type { RunContext } from './sequential-run.js'
import type { TFRecordState } from './state.js'

export class GlobalRun {
  private stopped = false
  private readonly reads = new Map<number, Promise<Uint8Array>>()
  private readonly handles = new Map<number, Promise<ObjectHandle>>()

  constructor(
    private readonly ctx: RunContext,
    private readonly plan: GlobalPlan,
    resume: TFRecordState | undefined,
  ) {
    if (resume !== undefined) {
      if (resume.delivered > plan.order.length) throw new RangeError('tfrecords: resume state is past the end of the plan')
      ctx.delivery.delivered = resume.delivered
    }
  }

  /** Global plans know no per-shard counts: the position is the delivered count alone. */
  knownCounts(): number[] {
    return []
  }

  async next(): Promise<IteratorResult<unknown>> {
    const { delivery, options, stats } = this.ctx
    const order = this.plan.order
    for (;;) {
      if (this.stopped) throw new ClosedError('TFRecord iteration')
      if (delivery.delivered >= order.length) {
        const last = delivery.remainder()
        if (last) return last
        await this.stop()
        return { value: undefined, done: true }
      }
      const pos = delivery.delivered
      const window = Math.min(order.length, pos + options.readAhead.records)
      for (let j = pos; j < window; j++) if (!this.reads.has(j)) this.reads.set(j, this.read(j))
      const t0 = performance.now()
      const record = await this.reads.get(pos)!
      stats.waitMs += performance.now() - t0
      this.reads.delete(pos)
      const out = delivery.deliver(record)
      if (out) return out
    }
  }

  private read(j: number): Promise<Uint8Array> {
    const g = this.plan.order[j]!
    const s = shardOf(this.plan.starts, g)
    const index = this.plan.indexes[s]!
    const i = g - this.plan.starts[s]!
    let h = this.handles.get(s)
    if (!h) {
      h = this.ctx.reader.open(index.url, { signal: this.ctx.options.signal }).then((handle) => {
        this.ctx.stats.shardsOpened++
        return handle
      })
      h.catch(() => undefined)
      this.handles.set(s, h)
    }
    const p = h.then((handle) => readRecordAt(handle, index.offsets[i]!, index.lengths[i]!, this.ctx.options.verify))
    p.catch(() => undefined)
    return p
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const closing = [...this.handles.values()].map((p) => p.then((h) => h.close()).catch(() => undefined))
    this.handles.clear()
    await Promise.all(closing)
  }
}
