/**
 * What a block occupies in the disk tier, written and removed inside a write transaction: a
 * fill (the admission policy's steps, the block, its index entries and the counters) and a
 * deletion, under the layout's rules for keeping usage exact across processes and crashes.
 * Fills run in two places: the disk writer thread, and the reader's own thread when the tier
 * writes inline (lmdb-block-store.ts says when and why); deletions run on the reader's
 * thread. Both keep the object catalogue bounded by the blocks (lmdb-object-catalog.ts).
 *
 * The policy itself is admission-policy.ts; here its two queues are read off the one
 * eviction queue (`order`, every block by insertion sequence): blocks below the sequence
 * `mainBelow` in `meta` are main, the rest probation. Promotion only ever takes the oldest
 * probation block, so moving that boundary past it is the whole promotion, the block and its
 * header stay as they are, and the main queue is in promotion order for free. `mainUsage`
 * counts main's bytes in the same transactions as `usage`.
 *
 * With a read plan a fill takes its victims from the plan instead (`PlanVictims`,
 * disk-plan-victims.ts): any resident block the chooser names, removed as a deletion removes
 * it, so usage, main's bytes and the queues stay exact for every process sharing the tier.
 */
import { crc32c } from '@node-rs/crc32'
import { keyHashes, type FrequencySketch } from './frequency-sketch.js'
import { FillAdmission, type QueueTail, type TierSituation } from './admission-policy.js'
import { OBJECT_ID_BYTES } from './block-key.js'
import { HEADER_BYTES, chargedBytes, seqKey, sizeOf, writeHeader, type CacheDbs, type CachedObjectRecord } from './lmdb-layout.js'
import { forgetObjectIfEmpty, recordObject } from './lmdb-object-catalog.js'
import type { RefusedKeys } from './refused-keys.js'

/** A block to store: `buffer` holds its header room at `offset` (default 0), then `length` bytes. */
export interface BlockToStore {
  key: Uint8Array
  buffer: ArrayBuffer
  offset?: number
  length: number
  maxBytes: number
  /** The object the block belongs to: recorded with its first block. */
  object?: CachedObjectRecord
  /** Where the filling process's run of new data began (admission-policy.ts), if it is part of one. */
  runSince?: number
}

/** The same, as a message to the disk writer thread. */
export interface FillRequest extends BlockToStore {
  type: 'fill'
  id: number
}

export interface FillOutcome {
  stored: boolean
  evictions: number
}

/** What one process knows for admission, kept in its memory (shared with its writer thread). */
export interface AdmissionMemory {
  sketch: FrequencySketch
  refused: RefusedKeys
}

/** A read plan's choice of victims for one fill, made inside its transaction. */
export interface PlanVictims {
  /** The next resident block to evict for this fill, or undefined: none is read later than it (refuse it). */
  next(dbs: CacheDbs): Buffer | undefined
  /** The fill removed this block. */
  evicted(key: Buffer): void
}

/**
 * One fill, inside the caller's write transaction, as a child transaction of it: lmdb-js
 * commits what a transaction callback wrote before it threw, so a fill that failed half way
 * (map full, a key LMDB refuses) would leave a block without its usage or its records. The
 * child is aborted instead, and the error goes to the caller. Inside a write transaction,
 * childTransaction runs its callback synchronously. `victims`: the reader's plan chooses them.
 */
export function fill(dbs: CacheDbs, memory: AdmissionMemory, req: BlockToStore, victims?: PlanVictims): FillOutcome {
  let outcome: FillOutcome | undefined
  try {
    void dbs.env.childTransaction(() => {
      outcome = victims === undefined ? fillInTransaction(dbs, memory, req) : fillByPlan(dbs, req, victims)
    })
  } catch (err) {
    if (!(err instanceof PlanRefused)) throw err
    return { stored: false, evictions: 0 } // the child was aborted: its removals are undone
  }
  if (outcome === undefined) throw new Error('lmdb-js ran a fill outside a write transaction')
  return outcome
}

/** Thrown inside a plan fill's child transaction to abort it: the plan refused the block after removing some. */
class PlanRefused extends Error {}

function fillInTransaction(dbs: CacheDbs, memory: AdmissionMemory, req: BlockToStore): FillOutcome {
  const key = Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength)
  if (dbs.sizes.doesExist(key)) return { stored: true, evictions: 0 }
  const charge = chargedBytes(req.length)
  const queues = new Queues(dbs, memory.sketch, req.maxBytes)
  const [h1, h2] = keyHashes(key)
  const frequency = memory.sketch.estimate(h1, h2)
  // A refusal is remembered for the next time the block is contested; one that finds room is spent.
  const refusedBelow = queues.usedBytes + charge > req.maxBytes ? memory.refused.take(h1, h2) : undefined
  const admission = new FillAdmission({ bytes: charge, frequency, ...(refusedBelow === undefined ? {} : { refusedBelow }), ...(req.runSince === undefined ? {} : { runSince: req.runSince }) })
  for (let step = admission.next(queues.situation()); step.kind !== 'admit'; step = admission.next(queues.situation())) {
    if (step.kind === 'reject') {
      if (step.byProtection) memory.refused.remember(h1, h2, queues.mainBelow)
      queues.save()
      return { stored: false, evictions: queues.evictions }
    }
    if (step.kind === 'promote') queues.promote()
    else queues.evict(step.queue)
  }
  putBlock(dbs, key, req)
  queues.usedBytes += charge
  queues.entries++
  queues.save()
  return { stored: true, evictions: queues.evictions }
}

/**
 * Evicts what the plan names until the block fits, then stores it; refuses it when the plan
 * names nothing. A refusal after some removals aborts the child transaction (PlanRefused), so
 * a refused fill never leaves the tier poorer; the tracker learns of the removals only once
 * the block is stored.
 */
function fillByPlan(dbs: CacheDbs, req: BlockToStore, victims: PlanVictims): FillOutcome {
  const key = Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength)
  if (dbs.sizes.doesExist(key)) return { stored: true, evictions: 0 }
  const charge = chargedBytes(req.length)
  const removed: Buffer[] = []
  while ((dbs.meta.get('usage') ?? 0) + charge > req.maxBytes) {
    const victim = victims.next(dbs)
    if (victim === undefined || !removeBlock(dbs, victim)) {
      if (removed.length > 0) throw new PlanRefused()
      return { stored: false, evictions: 0 }
    }
    removed.push(victim)
  }
  for (const victim of removed) victims.evicted(victim)
  const evictions = removed.length
  putBlock(dbs, key, req)
  dbs.meta.putSync('usage', (dbs.meta.get('usage') ?? 0) + charge)
  dbs.meta.putSync('entries', (dbs.meta.get('entries') ?? 0) + 1)
  return { stored: true, evictions }
}

/** Writes an admitted block, its index entries and its object's records; the caller counts its charge. */
function putBlock(dbs: CacheDbs, key: Buffer, req: BlockToStore): void {
  const seq = dbs.meta.get('seq') ?? 0
  const value = Buffer.from(req.buffer, req.offset ?? 0, HEADER_BYTES + req.length)
  writeHeader(value, req.length, crc32c(value.subarray(HEADER_BYTES)), seq)
  dbs.blocks.putSync(key, value)
  const size = Buffer.allocUnsafe(12)
  size.writeUInt32LE(req.length, 0)
  size.writeDoubleLE(seq, 4)
  dbs.sizes.putSync(key, size)
  dbs.order.putSync(seqKey(seq), Buffer.from(key))
  dbs.meta.putSync('seq', seq + 1)
  if (req.object !== undefined) recordObject(dbs, key.subarray(0, OBJECT_ID_BYTES), req.object)
}

interface Tail extends QueueTail {
  key: Buffer
}

/**
 * The two queues and the counters as one fill sees and changes them, inside its transaction;
 * `save` writes the counters back. Tails are read again after each change.
 */
class Queues {
  usedBytes: number
  entries: number
  mainBytes: number
  mainBelow: number
  evictions = 0
  private tails: { main: Tail | undefined; probation: Tail | undefined } | undefined

  constructor(
    private readonly dbs: CacheDbs,
    private readonly sketch: FrequencySketch,
    private readonly maxBytes: number,
  ) {
    this.usedBytes = dbs.meta.get('usage') ?? 0
    this.entries = dbs.meta.get('entries') ?? 0
    this.mainBytes = dbs.meta.get('mainUsage') ?? 0
    this.mainBelow = dbs.meta.get('mainBelow') ?? 0
  }

  situation(): TierSituation {
    const { main, probation } = this.current()
    return { usedBytes: this.usedBytes, maxBytes: this.maxBytes, mainBytes: this.mainBytes, mainTail: main, probationTail: probation }
  }

  /** The oldest probation block becomes the newest main block. */
  promote(): void {
    const tail = this.current().probation!
    this.mainBelow = tail.seq + 1
    this.mainBytes += tail.bytes
    this.tails = undefined
  }

  evict(queue: 'main' | 'probation'): void {
    const tail = this.current()[queue]!
    this.dbs.order.removeSync(seqKey(tail.seq))
    this.dbs.blocks.removeSync(tail.key)
    this.dbs.sizes.removeSync(tail.key)
    forgetObjectIfEmpty(this.dbs, tail.key.subarray(0, OBJECT_ID_BYTES))
    this.usedBytes -= tail.bytes
    // Never below zero, even if a process of an earlier version evicted main blocks unawares.
    if (queue === 'main') this.mainBytes = Math.max(0, this.mainBytes - tail.bytes)
    this.entries--
    this.evictions++
    this.tails = undefined
  }

  save(): void {
    const meta = this.dbs.meta
    if (meta.get('usage') !== this.usedBytes) meta.putSync('usage', this.usedBytes)
    if (meta.get('entries') !== this.entries) meta.putSync('entries', this.entries)
    if ((meta.get('mainUsage') ?? 0) !== this.mainBytes) meta.putSync('mainUsage', this.mainBytes)
    if ((meta.get('mainBelow') ?? 0) !== this.mainBelow) meta.putSync('mainBelow', this.mainBelow)
  }

  private current(): { main: Tail | undefined; probation: Tail | undefined } {
    this.tails ??= { main: this.oldest(0, this.mainBelow), probation: this.oldest(this.mainBelow, Infinity) }
    return this.tails
  }

  /**
   * The oldest block with a sequence in [from, below). An entry whose block has no size
   * record (left by a version that lost it) is dropped on the way: it charges nothing.
   */
  private oldest(from: number, below: number): Tail | undefined {
    for (;;) {
      let found: { seq: number; key: Buffer } | undefined
      for (const { key, value } of this.dbs.order.getRange({ start: seqKey(from), limit: 1 })) found = { seq: Number(key.readBigUInt64BE(0)), key: value }
      if (found === undefined || found.seq >= below) return undefined
      const size = sizeOf(this.dbs.sizes, found.key)
      if (size === undefined) {
        this.dbs.order.removeSync(seqKey(found.seq))
        continue
      }
      const [h1, h2] = keyHashes(found.key)
      return { seq: found.seq, key: found.key, bytes: chargedBytes(size.length), frequency: this.sketch.estimate(h1, h2) }
    }
  }
}

/**
 * Removes one block, its index entries and its charge, inside the caller's write transaction,
 * and the records of its object if it was the last block of it. False if it was not here.
 */
export function removeBlock(dbs: CacheDbs, key: Buffer): boolean {
  const size = sizeOf(dbs.sizes, key)
  if (size === undefined) return false
  const charge = chargedBytes(size.length)
  dbs.blocks.removeSync(key)
  dbs.sizes.removeSync(key)
  dbs.order.removeSync(seqKey(size.seq))
  dbs.meta.putSync('usage', (dbs.meta.get('usage') ?? 0) - charge)
  dbs.meta.putSync('entries', (dbs.meta.get('entries') ?? 0) - 1)
  if (size.seq < (dbs.meta.get('mainBelow') ?? 0)) dbs.meta.putSync('mainUsage', Math.max(0, (dbs.meta.get('mainUsage') ?? 0) - charge))
  forgetObjectIfEmpty(dbs, key.subarray(0, OBJECT_ID_BYTES))
  return true
}
