/**
 * One iteration over a global-shuffle plan: every record read by its own ranged read, in the
 * plan's permutation order, located with the record indexes.
 *
 * A window of `readAhead.records` reads is kept in flight ahead of the record being
 * delivered; records are delivered strictly in plan order, so the position is just the number
 * delivered and resuming needs no replay. Nothing is queued beyond that window, and there is
 * no shard boundary to hint across: the reads themselves are the prefetch.
 *
 * The whole order is known before the first read, so the reader gets it as a read plan
 * (`readAhead.plan`, on by default): one planned read per record from the resumed position,
 * advanced as each record's read completes and ended when the run stops. With it the cache
 * fetches the blocks ahead in the order the records will want them and keeps the ones wanted
 * soonest, where a random order otherwise defeats both read-ahead and eviction
 * (`node dist/bench/plan-cache.js`).
 */
import { ClosedError } from '../../lib/index.js'
import type { ObjectHandle, ObjectReader, ReadPlan } from '../../lib/index.js'
import type { Delivery } from './delivery.js'
import { nodeReads, nodeReadsBefore, ownReads, type NodeOrders } from './node-plan.js'
import type { ResolvedOptions } from './options.js'
import { shardOf, type GlobalPlan } from './plan.js'
import { readRecordAt } from './record-index.js'
import type { TFRecordState } from './state.js'
import type { TFRecordStats } from './stats.js'

export class GlobalRun {
  private stopped = false
  /** Reads in flight, by delivery position. */
  private readonly reads = new Map<number, Promise<Uint8Array>>()
  /** Handles by shard number, opened on first use and kept until the run stops. */
  private readonly handles = new Map<number, Promise<ObjectHandle>>()
  /** The reader's plan of the reads still to come, when it takes one (made at the first step). */
  private readPlan: ReadPlan | undefined
  private planStarted = false
  /** With a node-wide plan (two ranks or more): every local rank's order. */
  private readonly node: NodeOrders | undefined
  /** Reads of the node's rounds before the plan's first: where its position counts from. */
  private nodeReadsBeforePlan = 0

  /** Throws RangeError if `resume` is past the end of the plan. */
  constructor(
    private readonly reader: ObjectReader,
    private readonly options: ResolvedOptions,
    private readonly stats: TFRecordStats,
    private readonly delivery: Delivery,
    private readonly plan: GlobalPlan,
    resume: TFRecordState | undefined,
    nodeOrders?: NodeOrders,
  ) {
    if (resume !== undefined) {
      if (resume.delivered > plan.order.length) throw new RangeError('tfrecords: resume state is past the end of the plan')
      delivery.delivered = resume.delivered
    }
    this.node = nodeOrders !== undefined && nodeOrders.orders.length > 1 ? nodeOrders : undefined
  }

  /**
   * Hands the reader the reads to come, at the first step: a run stopped before it reads (or
   * never iterated) must not end a plan the reader holds for another run.
   */
  private startPlan(): void {
    this.planStarted = true
    const reader = this.reader
    if (this.options.readAhead.plan === false || reader.plan === undefined) return
    const from = this.delivery.delivered
    const node = this.node
    if (node !== undefined) {
      this.nodeReadsBeforePlan = nodeReadsBefore(node, from)
      this.readPlan = reader.plan(nodeReads(this.plan, node, from), { share: { index: node.local, count: node.orders.length } })
    } else {
      this.readPlan = reader.plan(ownReads(this.plan, from))
    }
  }

  /** Always empty: a global plan's position is the delivered count alone. */
  counts(): number[] {
    return []
  }

  async next(): Promise<IteratorResult<unknown>> {
    try {
      return await this.step()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.readPlan?.end()
    const closing: Promise<unknown>[] = []
    for (const p of this.handles.values()) closing.push(p.then((h) => h.close()).catch(() => undefined))
    this.handles.clear()
    await Promise.all(closing)
  }

  private async step(): Promise<IteratorResult<unknown>> {
    if (!this.planStarted) this.startPlan()
    const order = this.plan.order
    for (;;) {
      if (this.stopped) throw new ClosedError('TFRecord iteration')
      const pos = this.delivery.delivered
      if (pos >= order.length) {
        const last = this.delivery.remainder()
        if (last) return last
        await this.stop()
        return { value: undefined, done: true }
      }
      const window = Math.min(order.length, pos + this.options.readAhead.records)
      for (let j = pos; j < window; j++) if (!this.reads.has(j)) this.reads.set(j, this.read(j))
      const pending = this.reads.get(pos)!
      const t0 = performance.now()
      const record = await pending
      this.stats.waitMs += performance.now() - t0
      this.reads.delete(pos)
      this.advancePlan(pos)
      const out = this.delivery.deliver(record)
      if (out) return out
    }
  }

  /** Moves the plan past this rank's read `pos`: one read, or with a node plan the rest of its round. */
  private advancePlan(pos: number): void {
    const plan = this.readPlan
    if (plan === undefined || plan.ended) return
    const steps = this.node === undefined ? 1 : nodeReadsBefore(this.node, pos + 1) - this.nodeReadsBeforePlan - plan.position
    const left = plan.length - plan.position
    if (steps > 0 && left > 0) plan.advance(Math.min(steps, left))
  }

  private read(j: number): Promise<Uint8Array> {
    const plan = this.plan
    const g = plan.order[j]!
    const s = shardOf(plan.starts, g)
    const index = plan.indexes[s]!
    const i = g - plan.starts[s]!
    let h = this.handles.get(s)
    if (!h) {
      h = this.reader.open(index.url, { signal: this.options.signal }).then((handle) => {
        this.stats.shardsOpened++
        return handle
      })
      h.catch(() => undefined)
      this.handles.set(s, h)
    }
    const p = h.then((handle) => readRecordAt(handle, index.offsets[i]!, index.lengths[i]!, this.options.verify))
    p.catch(() => undefined)
    return p
  }
}
