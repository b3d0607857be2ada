/**
 * The cluster benchmark's configuration (`node dist/bench/cluster.js --help`): flags with
 * `BENCH_CLUSTER_*` environment fallbacks, and defaults sized so a run stays within about
 * five minutes on a 2-core machine that also runs s3rver, the remote-store model, three
 * redis-servers and three reader processes. The remote-store model's flags and defaults are
 * the harness's (link-model.ts), so the two benchmarks state the same "lake".
 */
import { parseArgs } from 'node:util'
import { DEFAULT_MODEL, type RemoteStoreModel } from './link-model.js'

/** Redis's eviction policies (redis.conf, `maxmemory-policy`). */
export const REDIS_POLICIES = ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] as const

export const CLUSTER_PHASES = ['alone', 'shared', 'cyclic'] as const
export type ClusterPhase = (typeof CLUSTER_PHASES)[number]

export interface ClusterBenchConfig {
  /** Which phases run: alone (a), shared (b and c), cyclic (d). */
  phases: ClusterPhase[]
  shards: number
  shardBytes: number
  /** Node processes that read the dataset at once, sharing the cluster. */
  nodes: number
  /** Redis Cluster masters. */
  masters: number
  /** Eviction policies compared on the cluster that holds `memoryShare` of the dataset. */
  policies: string[]
  /** The small cluster's `maxmemory`, summed over its masters, as a share of the dataset. */
  memoryShare: number
  /** Node processes reading the dataset at once on the small cluster. */
  cyclicNodes: number
  /** Epochs on the small cluster (the first fills it; the figures are the later ones). */
  cyclicEpochs: number
  /** Runs of each single-node phase (lake-cold, LMDB-warm, joining) and of each floor; targets take the medians. */
  repeat: number
  model: RemoteStoreModel
  /** BlockReader options (JSON) merged over every node's, group by group, for tuning experiments. */
  readerOptions: Record<string, unknown>
  /** Bound on one node's epoch: past it the run fails as hung. */
  epochTimeoutMs: number
  resultsDir: string
}

interface Flag {
  env: string
  kind: 'number' | 'string' | 'boolean'
  default: number | string | boolean
  help: string
}

export const CLUSTER_FLAGS: Record<string, Flag> = {
  phases: { env: 'BENCH_CLUSTER_PHASES', kind: 'string', default: CLUSTER_PHASES.join(','), help: 'phases to run: alone (a), shared (b, c), cyclic (d)' },
  shards: { env: 'BENCH_CLUSTER_SHARDS', kind: 'number', default: 6, help: 'TFRecord shards in the dataset' },
  'shard-mb': { env: 'BENCH_CLUSTER_SHARD_MB', kind: 'number', default: 48, help: 'size of each shard, MB (10^6 bytes)' },
  nodes: { env: 'BENCH_CLUSTER_NODES', kind: 'number', default: 3, help: 'node processes reading at once, sharing the cluster' },
  masters: { env: 'BENCH_CLUSTER_MASTERS', kind: 'number', default: 3, help: 'Redis Cluster masters (at least 3)' },
  policies: { env: 'BENCH_CLUSTER_POLICIES', kind: 'string', default: 'allkeys-lru,allkeys-lfu,allkeys-random,noeviction', help: 'maxmemory policies compared on the small cluster' },
  'memory-share': { env: 'BENCH_CLUSTER_MEMORY_SHARE', kind: 'number', default: 0.5, help: "small cluster: masters' maxmemory together, as a share of the dataset" },
  'cyclic-nodes': { env: 'BENCH_CLUSTER_CYCLIC_NODES', kind: 'number', default: 1, help: 'small cluster: node processes reading at once' },
  'cyclic-epochs': { env: 'BENCH_CLUSTER_CYCLIC_EPOCHS', kind: 'number', default: 3, help: 'small cluster: epochs (at least 2; the first fills it)' },
  repeat: { env: 'BENCH_CLUSTER_REPEAT', kind: 'number', default: 3, help: 'runs of the single-node phases (cold, LMDB-warm, joining) and the floors; targets use medians' },
  'latency-ms': { env: 'BENCH_LATENCY_MS', kind: 'number', default: DEFAULT_MODEL.firstByteLatencyMs, help: 'model: first-byte latency per request, ms' },
  'connection-mbps': { env: 'BENCH_CONNECTION_MBPS', kind: 'number', default: DEFAULT_MODEL.connectionBytesPerSecond / 1e6, help: 'model: bandwidth per connection, MB/s' },
  'link-mbps': { env: 'BENCH_LINK_MBPS', kind: 'number', default: DEFAULT_MODEL.aggregateBytesPerSecond / 1e6, help: 'model: aggregate link cap, MB/s' },
  'reader-options': { env: 'BENCH_CLUSTER_READER_OPTIONS', kind: 'string', default: '{}', help: "JSON merged over every node's BlockReader options (cluster: {...} too)" },
  'epoch-timeout-s': { env: 'BENCH_CLUSTER_EPOCH_TIMEOUT_S', kind: 'number', default: 300, help: "bound on one node's epoch, s (past it the run fails as hung)" },
  'results-dir': { env: 'BENCH_RESULTS_DIR', kind: 'string', default: 'bench/results', help: 'where the JSON-lines file goes' },
  help: { env: '', kind: 'boolean', default: false, help: 'show this help' },
}

export function clusterHelpText(): string {
  const rows = Object.entries(CLUSTER_FLAGS).map(([name, f]) => `  --${name.padEnd(18)} ${f.help}${f.kind === 'boolean' ? '' : ` (default ${f.default})`}${f.env ? ` [${f.env}]` : ''}`)
  return ['usage: node dist/bench/cluster.js [flags]  (environment fallback in brackets)', ...rows].join('\n')
}

/** Parses argv, then the environment, then the defaults; throws a TypeError naming the flag. Undefined for --help. */
export function parseClusterConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ClusterBenchConfig | undefined {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.entries(CLUSTER_FLAGS).map(([k, f]) => [k, { type: f.kind === 'boolean' ? 'boolean' : 'string' }])) as Record<string, { type: 'string' | 'boolean' }>,
    strict: true,
    allowPositionals: false,
  })
  if (values.help) return undefined
  const raw = (name: string): string | boolean => {
    const f = CLUSTER_FLAGS[name]!
    return values[name] ?? (f.env ? env[f.env] : undefined) ?? String(f.default)
  }
  const num = (name: string, min: number, integer = true): number => {
    const n = Number(raw(name))
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new TypeError(`bench cluster: --${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(raw(name))}`)
    }
    return n
  }
  const list = (name: string) => String(raw(name)).split(',').map((p) => p.trim()).filter(Boolean)
  const phases = list('phases')
  for (const p of phases) {
    if (!(CLUSTER_PHASES as readonly string[]).includes(p)) throw new TypeError(`bench cluster: --phases: unknown phase ${JSON.stringify(p)}; known: ${CLUSTER_PHASES.join(', ')}`)
  }
  const policies = list('policies')
  for (const p of policies) {
    if (!(REDIS_POLICIES as readonly string[]).includes(p)) throw new TypeError(`bench cluster: --policies: unknown maxmemory policy ${JSON.stringify(p)}; known: ${REDIS_POLICIES.join(', ')}`)
  }
  let readerOptions: Record<string, unknown>
  try {
    readerOptions = JSON.parse(String(raw('reader-options'))) as Record<string, unknown>
  } catch {
    throw new TypeError('bench cluster: --reader-options must be JSON')
  }
  const memoryShare = num('memory-share', 0, false)
  if (memoryShare <= 0 || memoryShare > 1) throw new TypeError(`bench cluster: --memory-share must be in (0, 1], got ${memoryShare}`)
  return {
    phases: phases as ClusterPhase[],
    shards: num('shards', 1),
    shardBytes: Math.round(num('shard-mb', 1, false) * 1e6),
    nodes: num('nodes', 2),
    masters: num('masters', 3),
    policies,
    memoryShare,
    cyclicNodes: num('cyclic-nodes', 1),
    cyclicEpochs: num('cyclic-epochs', 2),
    repeat: num('repeat', 1),
    model: {
      firstByteLatencyMs: num('latency-ms', 0, false),
      connectionBytesPerSecond: num('connection-mbps', 1, false) * 1e6,
      aggregateBytesPerSecond: num('link-mbps', 1, false) * 1e6,
    },
    readerOptions,
    epochTimeoutMs: num('epoch-timeout-s', 1, false) * 1000,
    resultsDir: String(raw('results-dir')),
  }
}
