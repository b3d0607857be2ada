/**
 * The read plan a global-shuffle rank hands its reader (`readAhead.plan`): its own reads, or,
 * with `ranksPerNode`, the reads of every rank on its node, round by round (each local rank's
 * k-th read, then each one's k+1-th), so that ranks sharing a disk tier evict by one plan and
 * each fetches ahead only its `share` of it (docs/design.md, Read plans).
 *
 * Ranks are taken to be placed on nodes in consecutive groups of `ranksPerNode` (global rank =
 * node x ranksPerNode + local rank, as torchrun and MPI place them). The other local ranks'
 * parts are cut from the same sequence by the same rule as this rank's (plan.ts); their
 * positions are assumed to keep pace with this rank's: a plan is a hint, and a rank running
 * ahead or behind costs only fetches, never a wrong record.
 */
import type { PlannedRead } from '../../lib/index.js'
import { FRAME_OVERHEAD } from './framing.js'
import { shardOf, type GlobalPlan } from './plan.js'

/** The record order of every rank of this rank's node, and which of them is this rank. */
export interface NodeOrders {
  orders: (Uint32Array | Float64Array)[]
  local: number
}

/** The ranks on the node of `index`: `[first, end)`, consecutive groups of `ranksPerNode`. */
export function nodeRanks(index: number, count: number, ranksPerNode: number): [number, number] {
  const first = Math.floor(index / ranksPerNode) * ranksPerNode
  return [first, Math.min(count, first + ranksPerNode)]
}

/** The planned read of global record `g`: the record with its framing, as the run reads it. */
export function readOf(plan: GlobalPlan, g: number): PlannedRead {
  const s = shardOf(plan.starts, g)
  const index = plan.indexes[s]!
  const i = g - plan.starts[s]!
  const start = index.offsets[i]!
  return { object: plan.shards[s]!, start, end: start + FRAME_OVERHEAD + index.lengths[i]! }
}

/** This rank's reads from delivery position `from` on. */
export function* ownReads(plan: GlobalPlan, from: number): Generator<PlannedRead> {
  for (let j = from; j < plan.order.length; j++) yield readOf(plan, plan.order[j]!)
}

/** The node's reads round by round, from round `from` on. */
export function* nodeReads(plan: GlobalPlan, node: NodeOrders, from: number): Generator<PlannedRead> {
  const rounds = Math.max(...node.orders.map((o) => o.length))
  for (let k = from; k < rounds; k++) {
    for (const order of node.orders) if (k < order.length) yield readOf(plan, order[k]!)
  }
}

/** Reads in the node's first `rounds` rounds: where the plan stands once every rank read that many. */
export function nodeReadsBefore(node: NodeOrders, rounds: number): number {
  let n = 0
  for (const order of node.orders) n += Math.min(rounds, order.length)
  return n
}
