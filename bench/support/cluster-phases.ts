/**
 * The phases of the cluster benchmark (issue 14), each a function that starts what it needs
 * (node processes, a Redis Cluster), returns its PhaseResults and stops what it started,
 * also when it fails:
 *
 * a. one node alone, no cluster: a lake-cold epoch, then a new process on the same cache
 *    directory (the LMDB-warm epoch);
 * b. N nodes at once, each with its own cache directory: first without a cluster ("today",
 *    the lake serves the dataset N times), then sharing one cluster;
 * c. a node joining later: its tiers empty, the cluster as (b) left it;
 * d. per eviction policy, a cluster whose masters' maxmemory totals `memoryShare` of the
 *    dataset and nodes whose own tiers are small: several epochs, the later ones measuring
 *    how much of the dataset the cluster kept from the lake under a cyclic scan.
 *
 * A group of nodes starts its epoch only once every node's reader is ready, and the
 * remote-store model's counters are read before and after, so each phase's lake bytes are
 * its own.
 */
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { MiB, type BlockReaderOptions, type S3Options } from '../../lib/index.js'
import type { ClusterOptions } from '../../lib/options.js'
import { startRedisCluster, type RedisCluster } from '../../lib/testing/index.js'
import type { ClusterBenchConfig } from './cluster-config.js'
import type { FloorFigures, PhaseResult, RedisFigures } from './cluster-figures.js'
import { measureFloor, type FloorResult } from './cluster-floor.js'
import { startNode, type ClusterNode } from './cluster-node.js'
import type { Dataset } from './imagenet-dataset.js'
import type { RemoteStoreCounts } from './remote-store-proxy.js'
import { shardGlob } from './scenarios.js'

export interface PhaseContext {
  config: ClusterBenchConfig
  dataset: Dataset
  /** S3 options pointing at the remote-store model. */
  s3: S3Options
  work: string
  lake: () => Promise<RemoteStoreCounts>
  /** Every phase result, as soon as it exists (printed and written as a JSON line). */
  record: (p: PhaseResult) => void
}

let dirs = 0
const freshDir = (ctx: PhaseContext, what: string) => join(ctx.work, `${what}-${dirs++}`)

/** Tiers that hold the whole dataset: what a node of phases a-c has. */
function roomyTiers(ctx: PhaseContext, cacheDir: string): BlockReaderOptions {
  const room = Math.ceil((ctx.dataset.bytes * 1.5) / MiB) * MiB
  return { s3: ctx.s3, cacheDir, memory: { maxBytes: room }, disk: { maxBytes: room } }
}

/**
 * The small node of phase d: a disk tier of a sixteenth of the dataset (16 MiB at least) and a
 * memory tier of 64 MiB with read-ahead capped at half of it. The cap matters: read-ahead
 * (128 MiB by default) larger than both local tiers would evict blocks it fetched before the
 * reader got to them and fetch them again, and those second fetches (from the cluster or the
 * lake) would swamp what the eviction policy is measured by.
 */
export function smallTiers(datasetBytes: number): { memoryBytes: number; diskBytes: number; readAheadBytes: number } {
  const memoryBytes = 64 * MiB
  return { memoryBytes, diskBytes: Math.max(16 * MiB, Math.floor(datasetBytes / 16 / MiB) * MiB), readAheadBytes: memoryBytes / 2 }
}

function smallTierOptions(ctx: PhaseContext, cacheDir: string): BlockReaderOptions {
  const t = smallTiers(ctx.dataset.bytes)
  return { s3: ctx.s3, cacheDir, memory: { maxBytes: t.memoryBytes }, disk: { maxBytes: t.diskBytes }, prefetch: { maxReadAheadBytes: t.readAheadBytes } }
}

/** The `maxmemory` of each master of the small cluster. */
export function smallClusterMaxmemory(datasetBytes: number, memoryShare: number, masters: number): number {
  return Math.floor((datasetBytes * memoryShare) / masters)
}

const clusterOptions = (redis: RedisCluster, keyPrefix: string): ClusterOptions => ({ nodes: redis.nodes, keyPrefix })

interface GroupSpec {
  id: string
  label: (epoch: number) => string
  options: BlockReaderOptions[]
  epochs: number
  redis?: RedisCluster
  policy?: string
  /** Which run of a repeated single-node phase this is. */
  run?: number
}

/** The phase's options with the user's tuning JSON over them, one group (memory, prefetch, cluster, ...) at a time. */
export function withUserOptions(options: BlockReaderOptions, user: Record<string, unknown>): BlockReaderOptions {
  const merged: Record<string, unknown> = { ...options, ...user }
  for (const [k, v] of Object.entries(user)) {
    const mine = (options as Record<string, unknown>)[k]
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof mine === 'object' && mine !== null) merged[k] = { ...mine, ...v }
  }
  return merged as BlockReaderOptions
}

/** Starts the nodes, runs `epochs` epochs with every node at once, and stops them. */
async function runGroup(ctx: PhaseContext, group: GroupSpec): Promise<PhaseResult[]> {
  const { dataset } = ctx
  const nodes: ClusterNode[] = group.options.map((options, i) =>
    startNode({ name: `node ${i + 1}`, options: withUserOptions(options, ctx.config.readerOptions), glob: shardGlob(dataset), records: dataset.records }),
  )
  const out: PhaseResult[] = []
  let ok = false
  try {
    await Promise.all(nodes.map((n) => n.ready))
    for (let e = 1; e <= group.epochs; e++) {
      const before = await ctx.lake()
      const t0 = performance.now()
      const epochs = await Promise.all(nodes.map((n) => n.epoch(ctx.config.epochTimeoutMs)))
      const wallSeconds = (performance.now() - t0) / 1000
      const after = await ctx.lake()
      const result: PhaseResult = {
        id: group.id,
        label: group.label(e),
        datasetBytes: dataset.bytes,
        nodes: epochs,
        wallSeconds,
        lakeBytes: after.bodyBytes - before.bodyBytes,
        lakeGets: after.gets - before.gets,
        lakeInFlight: (after.requestMs - before.requestMs) / (wallSeconds * 1000),
        ...(group.policy === undefined ? {} : { policy: group.policy, epoch: e }),
        ...(group.run === undefined ? {} : { run: group.run }),
        ...(group.redis === undefined ? {} : { redis: await redisFigures(group.redis) }),
      }
      ctx.record(result)
      out.push(result)
    }
    ok = true
  } finally {
    await Promise.all(nodes.map((n) => (ok ? n.close() : n.kill())))
  }
  return out
}

/** A Redis Cluster for the length of `use`, stopped (every redis-server killed, its directory removed) whatever happens. */
async function withCluster<T>(options: Parameters<typeof startRedisCluster>[0], use: (redis: RedisCluster) => Promise<T>): Promise<T> {
  const redis = await startRedisCluster(options)
  try {
    return await use(redis)
  } finally {
    await redis.stop()
  }
}

function infoField(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0)
}

/** The masters' memory, keys, evictions and OOM refusals, summed. */
export async function redisFigures(redis: RedisCluster): Promise<RedisFigures> {
  const per = await Promise.all(
    redis.masters.map(async (m) => {
      const info = String(await redis.command(m.port, 'INFO', 'memory', 'stats', 'errorstats'))
      return {
        usedBytes: infoField(info, 'used_memory'),
        clientBytes: infoField(info, 'mem_clients_normal'),
        maxBytes: infoField(info, 'maxmemory'),
        evictedKeys: infoField(info, 'evicted_keys'),
        oomErrors: Number(/^errorstat_OOM:count=(\d+)/m.exec(info)?.[1] ?? 0),
        keys: Number(await redis.command(m.port, 'DBSIZE')),
      }
    }),
  )
  const sum = (k: keyof RedisFigures) => per.reduce((a, p) => a + p[k], 0)
  return { usedBytes: sum('usedBytes'), clientBytes: sum('clientBytes'), maxBytes: sum('maxBytes'), keys: sum('keys'), evictedKeys: sum('evictedKeys'), oomErrors: sum('oomErrors') }
}

/**
 * What Redis charges for one full block's value (`MEMORY USAGE` of the head and the bulk of
 * the largest value on the first master, samples 0): the block, sluice's header, and the
 * allocator's rounding.
 */
async function bytesPerBlockValue(redis: RedisCluster, keyPrefix: string): Promise<number> {
  const port = redis.masters[0]!.port
  const [, keys] = (await redis.command(port, 'SCAN', '0', 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)) as [string, string[]]
  const usage = async (key: string) => Number((await redis.command(port, 'MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0)
  let largest = 0
  for (const head of keys.filter((k) => k.endsWith('}')).slice(0, 20)) {
    largest = Math.max(largest, (await usage(head)) + (keys.includes(`${head}:data`) ? await usage(`${head}:data`) : 0))
  }
  return largest
}

/** ` (run 2/3)` when a phase runs more than once. */
const runTag = (ctx: PhaseContext, run: number) => (ctx.config.repeat > 1 ? ` (${run}/${ctx.config.repeat})` : '')

/**
 * Phase a: the baseline node, lake-cold (each run with an empty cache directory), then
 * LMDB-warm in a new process on the last run's directory (as many runs).
 */
export async function aloneColdAndWarm(ctx: PhaseContext): Promise<PhaseResult[]> {
  const out: PhaseResult[] = []
  let dir = ''
  try {
    for (let run = 1; run <= ctx.config.repeat; run++) {
      if (dir) await rm(dir, { recursive: true, force: true })
      dir = freshDir(ctx, 'alone')
      out.push(...(await runGroup(ctx, { id: 'cold', label: () => `a. one node alone${runTag(ctx, run)}: lake-cold epoch`, options: [roomyTiers(ctx, dir)], epochs: 1, run })))
    }
    for (let run = 1; run <= ctx.config.repeat; run++) {
      out.push(...(await runGroup(ctx, { id: 'lmdb_warm', label: () => `a. the same node restarted${runTag(ctx, run)}: LMDB-warm epoch`, options: [roomyTiers(ctx, dir)], epochs: 1, run })))
    }
    return out
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Phases b and c: N nodes without, then with a shared cluster; then a node joining later
 * (`repeat` runs, each with empty tiers), and the joining node's floors (cluster-floor.ts).
 */
export async function sharedAndJoining(ctx: PhaseContext): Promise<{ phases: PhaseResult[]; redisBytesPerBlock: number; floors: FloorFigures }> {
  const n = ctx.config.nodes
  const dirsOf = (what: string, count: number) => Array.from({ length: count }, () => freshDir(ctx, what))
  const todayDirs = dirsOf('today', n)
  const phases: PhaseResult[] = []
  try {
    phases.push(...(await runGroup(ctx, { id: 'today', label: () => `b. ${n} nodes at once, no cluster ("today")`, options: todayDirs.map((d) => roomyTiers(ctx, d)), epochs: 1 })))
  } finally {
    await Promise.all(todayDirs.map((d) => rm(d, { recursive: true, force: true })))
  }
  const sharedDirs = dirsOf('shared', n)
  const joinDirs = dirsOf('joining', ctx.config.repeat)
  const floorDir = freshDir(ctx, 'floor')
  try {
    return await withCluster({ masters: ctx.config.masters }, async (redis) => {
      const keyPrefix = 'bench:'
      const cluster = clusterOptions(redis, keyPrefix)
      const options = sharedDirs.slice(0, n).map((d) => ({ ...roomyTiers(ctx, d), cluster }))
      phases.push(...(await runGroup(ctx, { id: 'shared', label: () => `b. ${n} nodes at once, sharing a ${ctx.config.masters}-master cluster`, options, epochs: 1, redis })))
      for (const [i, dir] of joinDirs.entries()) {
        const label = () => `c. node ${n + 1} joins later${runTag(ctx, i + 1)}: cluster warm, own tiers empty`
        phases.push(...(await runGroup(ctx, { id: 'fourth', label, options: [{ ...roomyTiers(ctx, dir), cluster }], epochs: 1, redis, run: i + 1 })))
        await rm(dir, { recursive: true, force: true })
      }
      const floors: FloorFigures = {}
      const median = (runs: FloorResult[]) => runs.sort((a, b) => a.seconds - b.seconds)[runs.length >> 1]!
      const floorRuns = async (writeDir?: string) => {
        const runs: FloorResult[] = []
        for (let r = 0; r < ctx.config.repeat; r++) runs.push(await measureFloor({ nodes: redis.nodes, keyPrefix, ...(writeDir ? { writeDir } : {}) }, ctx.config.epochTimeoutMs))
        return median(runs)
      }
      floors.keep = await floorRuns()
      await mkdir(floorDir, { recursive: true })
      floors.write = await floorRuns(floorDir)
      return { phases, redisBytesPerBlock: await bytesPerBlockValue(redis, keyPrefix), floors }
    })
  } finally {
    await Promise.all([...sharedDirs, ...joinDirs, floorDir].map((d) => rm(d, { recursive: true, force: true })))
  }
}

/** Phase d, one policy: a cluster of `memoryShare` of the dataset, small node tiers, several epochs. */
export async function cyclicEpochs(ctx: PhaseContext, policy: string): Promise<PhaseResult[]> {
  const { config, dataset } = ctx
  const maxmemoryBytes = smallClusterMaxmemory(dataset.bytes, config.memoryShare, config.masters)
  const dirs = Array.from({ length: config.cyclicNodes }, () => freshDir(ctx, `cyclic-${policy}`))
  try {
    return await withCluster({ masters: config.masters, maxmemoryBytes, maxmemoryPolicy: policy }, (redis) => {
      const cluster = clusterOptions(redis, 'cyclic:')
      const nodes = config.cyclicNodes === 1 ? 'one node' : `${config.cyclicNodes} nodes`
      return runGroup(ctx, {
        id: 'cyclic',
        label: (e) => `d. ${policy}, ${nodes}, epoch ${e}`,
        options: dirs.map((d) => ({ ...smallTierOptions(ctx, d), cluster })),
        epochs: config.cyclicEpochs,
        redis,
        policy,
      })
    })
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  }
}
