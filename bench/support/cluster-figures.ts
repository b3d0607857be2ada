/**
 * The cluster benchmark's arithmetic, apart from processes and sockets so a test can pin it:
 * what one node's epoch did (from its reader's stats before and after), what a phase of the
 * run adds up to (the bytes that crossed the remote-store model while its nodes read), the
 * issue's targets as verdicts, the recommended eviction policy, and the printed table.
 *
 * Every "bytes from the lake" figure is the model's own count of response body bytes over the
 * phase (listings included, a few KB), not the readers' claims: the model sees every node.
 * Shares are per dataset byte, not per byte the nodes read: three nodes sharing a cluster
 * that each fetched a third of the dataset made the lake serve it once, 1.0, whoever read it.
 */
import type { FloorResult } from './cluster-floor.js'
import type { ReaderStats, TierStats } from '../../lib/index.js'
import type { Verdict } from './targets.js'

/** One node's epoch, as its process reports it. */
export interface NodeEpoch {
  node: string
  seconds: number
  records: number
  firstRecordMs: number
  /** CPU seconds of the node's process over the epoch, every thread. */
  cpuSeconds: number
  /** Seconds the epoch's queued fills (disk, cluster) took to land after it; not in `seconds`. */
  flushSeconds: number
  /** Bytes and GETs this node's reader fetched from the source. */
  sourceBytes: number
  sourceGets: number
  clusterHits: number
  clusterHitBytes: number
  clusterMisses: number
  clusterErrors: number
  /** Fills the cluster tier declined (write-behind bound, OOM under noeviction). */
  clusterDroppedFills: number
  leasesWon: number
  leasesWaited: number
  leasesFilled: number
  leasesExpired: number
  leaseTimeouts: number
  /** False if the tier was bypassed when the epoch ended. */
  clusterHealthy: boolean
  clusterLastError?: string
}

/** The Redis masters together, after a phase (INFO memory / stats, DBSIZE). */
export interface RedisFigures {
  usedBytes: number
  /** Of `usedBytes`, the clients' query and output buffers (a 4 MiB SET or GET passes through one). */
  clientBytes: number
  maxBytes: number
  keys: number
  evictedKeys: number
  /** Commands the masters refused for memory (OOM, under noeviction), from INFO errorstats. */
  oomErrors: number
}

export interface PhaseResult {
  /** `cold`, `lmdb_warm`, `today`, `shared`, `fourth`, `cyclic` (with `policy` and `epoch`). */
  id: string
  label: string
  datasetBytes: number
  nodes: NodeEpoch[]
  /** From the first node's start to the last node's end, seconds (the nodes start together). */
  wallSeconds: number
  /** Response body bytes and GETs the remote-store model served during the phase. */
  lakeBytes: number
  lakeGets: number
  /** Mean lake requests in flight over the phase (the model's request time over wall time): how busy the nodes kept the lake. */
  lakeInFlight: number
  policy?: string
  epoch?: number
  /** 1-based repetition of a single-node phase (cold, LMDB-warm, joining); its targets take the median over runs. */
  run?: number
  redis?: RedisFigures
}

const tierOf = (s: ReaderStats, name: string): TierStats | undefined => s.tiers.find((t) => t.name === name)

/** What the reader did between two stats snapshots of one node. */
export function epochDelta(
  node: string,
  timing: { seconds: number; items: number; firstItemMs: number },
  cpuSeconds: number,
  flushSeconds: number,
  before: ReaderStats,
  after: ReaderStats,
): NodeEpoch {
  const c0 = tierOf(before, 'cluster')
  const c1 = tierOf(after, 'cluster')
  const d = (f: (t: TierStats) => number) => (c1 ? f(c1) : 0) - (c0 ? f(c0) : 0)
  const l = (k: keyof NonNullable<TierStats['cluster']>) => d((t) => t.cluster?.[k] ?? 0)
  return {
    node,
    seconds: timing.seconds,
    records: timing.items,
    firstRecordMs: timing.firstItemMs,
    cpuSeconds,
    flushSeconds,
    sourceBytes: after.source.bytes - before.source.bytes,
    sourceGets: after.source.gets - before.source.gets,
    clusterHits: d((t) => t.hits),
    clusterHitBytes: d((t) => t.hitBytes),
    clusterMisses: d((t) => t.misses),
    clusterErrors: d((t) => t.errors),
    clusterDroppedFills: d((t) => t.droppedFills),
    leasesWon: l('leasesWon'),
    leasesWaited: l('leasesWaited'),
    leasesFilled: l('leasesFilled'),
    leasesExpired: l('leasesExpired'),
    leaseTimeouts: l('leaseTimeouts'),
    clusterHealthy: c1?.healthy ?? true,
    ...(c1?.lastError === undefined ? {} : { clusterLastError: c1.lastError }),
  }
}

/** The dataset's file bytes over the node's epoch time, decimal MB/s (the harness's unit). */
export const nodeMbps = (p: PhaseResult, n: NodeEpoch) => p.datasetBytes / 1e6 / n.seconds
/** Bytes the lake served during the phase per dataset byte (3.0: three nodes each fetched it all). */
export const lakePerDatasetByte = (p: PhaseResult) => p.lakeBytes / p.datasetBytes
/** Share of the dataset the lake did not have to serve during the phase (negative: more than once). */
export const notFetchedShare = (p: PhaseResult) => 1 - p.lakeBytes / p.datasetBytes

function only(phases: PhaseResult[], id: string): PhaseResult | undefined {
  return phases.find((p) => p.id === id)
}

/** A single-node phase's MB/s (the first node: such phases have one). */
function singleMbps(p: PhaseResult | undefined): number | undefined {
  return p && p.nodes[0] ? nodeMbps(p, p.nodes[0]) : undefined
}

/** The median MB/s over the runs of a single-node phase; undefined if it did not run. */
export function medianMbps(phases: PhaseResult[], id: string): number | undefined {
  const runs = phases.filter((p) => p.id === id).map(singleMbps).filter((x): x is number => x !== undefined).sort((a, b) => a - b)
  if (runs.length === 0) return undefined
  const mid = runs.length >> 1
  return runs.length % 2 === 1 ? runs[mid]! : (runs[mid - 1]! + runs[mid]!) / 2
}

/**
 * Per policy, its worst "bytes not fetched" over the epochs after the first (the cyclic
 * figure to compare), and the cluster-tier errors its nodes counted: a figure reached while
 * the tier failed (and was bypassed for a while) is not one that policy can be relied on for.
 */
export function policyScores(phases: PhaseResult[]): { policy: string; worst: number; errors: number }[] {
  const by = new Map<string, { worst: number; errors: number }>()
  for (const p of phases) {
    if (p.id !== 'cyclic' || p.policy === undefined) continue
    const s = by.get(p.policy) ?? { worst: Infinity, errors: 0 }
    if ((p.epoch ?? 1) >= 2) s.worst = Math.min(s.worst, notFetchedShare(p))
    s.errors += p.nodes.reduce((a, n) => a + n.clusterErrors, 0)
    by.set(p.policy, s)
  }
  return [...by].filter(([, s]) => Number.isFinite(s.worst)).map(([policy, s]) => ({ policy, ...s }))
}

/** The policy whose worst later epoch left the most bytes in the cluster, among those the tier saw no error under (if any). */
export function recommendedPolicy(phases: PhaseResult[]): string | undefined {
  const scores = policyScores(phases)
  const clean = scores.filter((s) => s.errors === 0)
  const pool = clean.length > 0 ? clean : scores
  if (pool.length === 0) return undefined
  return pool.reduce((a, b) => (b.worst > a.worst ? b : a)).policy
}

const times = (x: number) => `${x.toFixed(2)}x`
const pct = (x: number) => `${(100 * x).toFixed(0)}%`

function verdict(target: string, value: number | undefined, threshold: number, fmt: (x: number) => string, higherIsBetter = true): Verdict {
  const measured = value !== undefined && Number.isFinite(value)
  return {
    target,
    value: measured ? fmt(value) : 'not measured',
    threshold: `${higherIsBetter ? '>=' : '<='} ${fmt(threshold)}`,
    met: measured ? (higherIsBetter ? value >= threshold : value <= threshold) : undefined,
  }
}

/** Issue 14's targets, each with its figure from this run. */
export function checkClusterTargets(phases: PhaseResult[]): Verdict[] {
  const shared = only(phases, 'shared')
  const cold = medianMbps(phases, 'cold')
  const warm = medianMbps(phases, 'lmdb_warm')
  const fourth = medianMbps(phases, 'fourth')
  const out = [
    verdict(`${shared?.nodes.length ?? 'N'} nodes at once with the cluster: bytes from the lake per dataset byte`, shared && lakePerDatasetByte(shared), 1.1, (x) => x.toFixed(2), false),
    verdict('a node joining later (cluster warm, own tiers empty) vs the lake-cold epoch (medians)', fourth !== undefined && cold ? fourth / cold : undefined, 3, times),
    verdict('a node joining later vs its own LMDB-warm epoch (medians)', fourth !== undefined && warm ? fourth / warm : undefined, 0.5, times),
  ]
  for (const { policy, worst } of policyScores(phases)) {
    out.push(verdict(`dataset 2x the cluster's memory, ${policy}: bytes not fetched, epochs after the first (worst)`, worst, 0.4, pct))
  }
  return out
}

function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-'
}

function notes(p: PhaseResult): string {
  const sum = (f: (n: NodeEpoch) => number) => p.nodes.reduce((a, n) => a + f(n), 0)
  const parts: string[] = []
  const lookups = sum((n) => n.clusterHits + n.clusterMisses)
  if (lookups > 0 || sum((n) => n.leasesWon) > 0) {
    parts.push(`cluster hits ${fmt(sum((n) => n.clusterHitBytes) / 1e6)} MB`)
    // Per node: who fetched for the others (one node winning nearly every lease means the lake sees one node's pipeline).
    parts.push(`leases won ${p.nodes.map((n) => n.leasesWon).join('/')}, waited ${sum((n) => n.leasesWaited)} (filled ${sum((n) => n.leasesFilled)}, expired ${sum((n) => n.leasesExpired)}, timed out ${sum((n) => n.leaseTimeouts)})`)
  }
  const errors = sum((n) => n.clusterErrors)
  const dropped = sum((n) => n.clusterDroppedFills)
  const lastError = p.nodes.find((n) => n.clusterErrors > 0 && n.clusterLastError !== undefined)?.clusterLastError
  if (errors > 0 || dropped > 0) parts.push(`cluster errors ${errors}${lastError ? ` (last: ${lastError})` : ''}, dropped fills ${dropped}`)
  const bypassed = p.nodes.filter((n) => !n.clusterHealthy)
  if (bypassed.length > 0) parts.push(`tier BYPASSED at the end on ${bypassed.map((n) => n.node).join(', ')}`)
  if (p.lakeInFlight > 0) parts.push(`${fmt(p.lakeInFlight, 1)} lake requests in flight`)
  if (p.redis) {
    const r = p.redis
    parts.push(`redis ${fmt(r.usedBytes / 1e6)}/${fmt(r.maxBytes / 1e6)} MB (clients ${fmt(r.clientBytes / 1e6)} MB), ${r.keys} keys, ${r.evictedKeys} evicted${r.oomErrors > 0 ? `, ${r.oomErrors} OOM refusals` : ''}`)
  }
  parts.push(`CPU ${fmt(sum((n) => n.cpuSeconds), 1)} s`)
  return parts.join('; ')
}

/** One row per phase: each node's epoch, the lake's bytes for the phase, and what the cluster did. */
export function renderClusterTable(phases: PhaseResult[]): string {
  const head = `${'phase'.padEnd(60)} ${'epoch s (each node)'.padEnd(22)} ${'MB/s (each node)'.padEnd(20)} ${'lake MB'.padStart(8)} ${'lake/ds'.padStart(8)} ${'not fetched'.padStart(11)}  notes`
  const lines = [head, '-'.repeat(head.length + 40)]
  for (const p of phases) {
    lines.push(
      [
        p.label.slice(0, 60).padEnd(60),
        p.nodes.map((n) => fmt(n.seconds, 2)).join(' / ').padEnd(22),
        p.nodes.map((n) => fmt(nodeMbps(p, n))).join(' / ').padEnd(20),
        fmt(p.lakeBytes / 1e6).padStart(8),
        fmt(lakePerDatasetByte(p), 2).padStart(8),
        pct(notFetchedShare(p)).padStart(11),
        ` ${notes(p)}`,
      ].join(' '),
    )
  }
  return lines.join('\n')
}

/** What the joining node must at least do, measured on the same cluster (cluster-floor.ts). */
export interface FloorFigures {
  /** Every value received into new buffers that are kept (a memory tier's fill). */
  keep?: FloorResult
  /** Every value received into reused buffers and written to a file (a disk tier's fill). */
  write?: FloorResult
}

const floorMbps = (f: FloorResult) => f.bytes / 1e6 / f.seconds

/**
 * Lines on the joining node's floors: each floor's MB/s and CPU, the joining node's median
 * as a share of it, and what the 3x-cold target asks for against the faster floor: a node
 * that fills a local tier from the cluster cannot be faster than both.
 */
export function renderFloors(floors: FloorFigures, phases: PhaseResult[]): string[] {
  const fourth = medianMbps(phases, 'fourth')
  const cold = medianMbps(phases, 'cold')
  const lines: string[] = []
  const row = (what: string, f: FloorResult | undefined) => {
    if (f === undefined) return
    const share = fourth === undefined ? '' : `; the joining node reads at ${(fourth / floorMbps(f)).toFixed(2)}x this`
    lines.push(`  floor, ${what}: ${fmt(floorMbps(f))} MB/s, CPU ${fmt(f.cpuSeconds, 2)} s for ${fmt(f.bytes / 1e6)} MB${share}`)
  }
  row('every value received from the cluster into new buffers, kept (a memory tier fill)', floors.keep)
  row('received into reused buffers, written to a file (a disk tier fill)', floors.write)
  if (floors.keep !== undefined && floors.write !== undefined && cold !== undefined) {
    const asked = 3 * cold
    const ceiling = Math.max(floorMbps(floors.keep), floorMbps(floors.write))
    lines.push(
      `  3x the lake-cold epoch is ${fmt(asked)} MB/s: ${asked > ceiling ? 'ABOVE' : 'below'} the faster floor (${fmt(ceiling)} MB/s)` +
        (asked > ceiling ? ': a node that fills either local tier from the cluster cannot reach it on this machine' : ''),
    )
  }
  return lines
}
