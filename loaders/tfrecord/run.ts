/**
 * One iteration of a dataset: what `for await (const r of ds)` drives.
 *
 * A run is made synchronously when iteration starts, but what it will do is known only after
 * I/O: it resolves the source, fingerprints the plan (refusing a resume state from another
 * plan or job), builds the record indexes the plan needs, and computes this rank's part: of the
 * whole epoch, of what a merged state still owes (elastic.ts), or the part its own state
 * names. Then it hands every `next()` to the run of that plan's kind, {@link SequentialRun}
 * or {@link GlobalRun}. What the two share stays here or in {@link Delivery}: the counters,
 * the delivered position and the state built from it, and stopping (which may come before
 * the plan is known).
 */
import type { ObjectInfo, ObjectReader } from '../../lib/index.js'
import { Delivery, type DeliverySpec } from './delivery.js'
import { GlobalRun } from './global-run.js'
import { nodeRanks, type NodeOrders } from './node-plan.js'
import { indexOptionsOf, type ResolvedOptions } from './options.js'
import { remainingOf } from './elastic.js'
import { groupPieces, wholeSequence, type Piece } from './pieces.js'
import {
  closeEnds,
  cutRecords,
  dealShards,
  epochShardOrder,
  globalSequence,
  planGlobal,
  planSequential,
  shardsOf,
  type Plan,
  type PlanSettings,
} from './plan.js'
import { recordIndex, type RecordIndex } from './record-index.js'
import { SequentialRun } from './sequential-run.js'
import { resolveSources, type TFRecordSource } from './sources.js'
import { jobFingerprint, partFingerprint, planFingerprint, remainderId, type TFRecordElastic, type TFRecordState } from './state.js'
import { emptyStats, type TFRecordStats } from './stats.js'

/** A run's plan, the state fields that describe it, and the position to continue from. */
interface Start {
  plan: Plan
  key: string
  elastic: TFRecordElastic
  progress: TFRecordState | undefined
  /** Global mode with a node-wide read plan: every local rank's order. */
  node: NodeOrders | undefined
}

/** Record indexes built at once while planning: building is I/O bound and the block reader bounds its own fetches. */
const INDEX_BUILDS_AT_ONCE = 4

export class Run implements AsyncIterator<unknown> {
  readonly stats: TFRecordStats = emptyStats()
  /** The plan's fingerprint, once the source is resolved. */
  planKey: string | undefined
  private elastic: TFRecordElastic | undefined
  private readonly delivery: Delivery
  private mode: SequentialRun | GlobalRun | undefined
  private started: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly reader: ObjectReader,
    private readonly source: TFRecordSource,
    private readonly options: ResolvedOptions,
    spec: DeliverySpec,
  ) {
    this.delivery = new Delivery(this.stats, spec)
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  state(): TFRecordState {
    const state: TFRecordState = {
      v: 1,
      epoch: this.options.epoch,
      delivered: this.delivery.delivered,
      counts: this.mode?.counts() ?? [],
      plan: this.planKey ?? '',
    }
    if (this.elastic !== undefined) state.elastic = { ...this.elastic, part: this.elastic.part.map(([k, first, end]): Piece => [k, first, end]) }
    return state
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.mode !== undefined) return this.mode.next()
    if (this.started === undefined) this.started = this.begin()
    return this.nextOnceStarted()
  }

  async return(): Promise<IteratorResult<unknown>> {
    await this.stop()
    return { value: undefined, done: true }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.mode?.stop()
  }

  private async nextOnceStarted(): Promise<IteratorResult<unknown>> {
    try {
      await this.started
    } catch (err) {
      await this.stop()
      throw err
    }
    return this.mode!.next()
  }

  private async begin(): Promise<void> {
    const o = this.options
    const shards = await resolveSources(this.reader, this.source, { signal: o.signal })
    const start = await this.plan(shards)
    if (start.plan.kind === 'global') {
      this.mode = new GlobalRun(this.reader, o, this.stats, this.delivery, start.plan, start.progress, start.node)
    } else {
      const run = new SequentialRun(this.reader, o, this.stats, this.delivery, start.plan, start.progress)
      this.mode = run
      if (!this.stopped) run.start()
    }
    // only now: until the run has taken the resumed position, state() is the state given
    this.elastic = start.elastic
    this.planKey = start.key
    if (this.stopped) await this.mode.stop()
  }

  /**
   * This rank's plan, and the position in it to continue from. The part is cut from the
   * whole epoch; or from what a merged state (a world of one) still owes, when that state is
   * not this rank's own; or it is the part a state of this rank names, when that part was cut
   * from such a remainder.
   */
  private async plan(shards: ObjectInfo[]): Promise<Start> {
    const o = this.options
    const shuffle = o.shuffle
    const { index, count } = o.shard
    const settings: PlanSettings = { seed: shuffle?.seed, shuffleShards: shuffle?.shards ?? false, epoch: o.epoch, index, count }
    const global = shuffle?.global ?? false
    const buffer = global ? 0 : shuffle?.buffer ?? 0
    const job = jobFingerprint({ shards, epoch: o.epoch, global, seed: shuffle?.seed, buffer, shuffleShards: settings.shuffleShards, onCorrupt: o.onCorrupt })
    const resume = o.resume
    const e = resume?.elastic
    let progress = resume
    let from = ''
    let owed: Piece[] | undefined
    let given: Piece[] | undefined
    if (e !== undefined) {
      if (e.job !== job) throw new RangeError('tfrecords: resume state belongs to another job (shards, their versions, seed, shuffle or epoch changed)')
      if (e.rank === index && e.world === count) {
        if (e.from !== '') [from, given] = [e.from, e.part]
      } else if (e.world === 1) {
        owed = remainingOf(resume!)
        from = remainderId(job, owed)
        progress = undefined
      } else {
        throw new RangeError(
          `tfrecords: resume state is rank ${e.rank}'s of ${e.world}, not rank ${index}'s of ${count}; to resume at another world size, pass mergeStates() of the states of all ${e.world} ranks`,
        )
      }
    }
    const pieces = owed ?? given
    const shardCount = pieces === undefined ? shards.length : groupPieces(pieces).length
    // explicit 'files' with more ranks than shards leaves some ranks empty, as asked
    const mode: 'files' | 'records' | 'global' = global
      ? 'global'
      : given !== undefined
        ? e!.mode
        : o.shard.mode !== 'auto'
          ? o.shard.mode
          : shardCount < count || (owed !== undefined && e!.mode === 'records')
            ? 'records'
            : 'files'
    const key =
      from === ''
        ? planFingerprint({ shards, epoch: o.epoch, mode, seed: shuffle?.seed, buffer, shuffleShards: settings.shuffleShards, index, count, onCorrupt: o.onCorrupt })
        : partFingerprint(job, from, index, count)
    if (progress !== undefined && progress.plan !== key) {
      throw new RangeError('tfrecords: resume state belongs to a different plan (shards, their versions, seed, shuffle, epoch or rank changed)')
    }
    let plan: Plan
    let node: NodeOrders | undefined
    if (mode === 'global') {
      const seq = globalSequence(shards, await this.indexesOf(shards), settings)
      const base: Piece[] = owed ?? [[0, 0, seq.permutation.length]]
      plan = planGlobal(seq, given ?? cutRecords(base, settings))
      const perNode = o.readAhead.plan === false ? 1 : o.readAhead.plan.ranksPerNode
      // A part this rank's own state names, cut from a merged remainder that is not at hand:
      // the other ranks' parts cannot be cut again, so the plan is this rank's own.
      const peersKnown = given === undefined || from === ''
      if (perNode > 1 && peersKnown) {
        // The other local ranks' parts, cut from the same sequence by the same rule (node-plan.ts).
        const [first, end] = nodeRanks(index, count, perNode)
        const orders = []
        for (let q = first; q < end; q++) orders.push(q === index ? plan.order : planGlobal(seq, cutRecords(base, { ...settings, index: q })).order)
        node = { orders, local: index - first }
      }
    } else {
      const order = epochShardOrder(shards, settings)
      const base = pieces ?? wholeSequence(order.length)
      if (mode === 'files') {
        plan = planSequential(order, given ?? dealShards(base, settings), mode)
      } else {
        const indexes = await this.indexesOf(shardsOf(base, order, shards))
        plan = planSequential(order, given ?? cutRecords(closeEnds(base, order, indexes), settings), mode, indexes)
      }
    }
    const elastic: TFRecordElastic = { job, from, rank: index, world: count, seed: shuffle?.seed ?? null, buffer, mode, part: plan.part }
    return { plan, key, elastic, progress, node }
  }

  private async indexesOf(shards: ObjectInfo[]): Promise<Map<string, RecordIndex>> {
    const map = new Map<string, RecordIndex>()
    const opts = { ...indexOptionsOf(this.options), onBuild: () => this.stats.indexesBuilt++ }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < shards.length) {
        const shard = shards[next++]!
        map.set(shard.url, await recordIndex(this.reader, shard, opts))
      }
    }
    await Promise.all(Array.from({ length: Math.min(INDEX_BUILDS_AT_ONCE, shards.length) }, worker))
    return map
  }
}
