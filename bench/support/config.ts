/**
 * The harness's configuration: one object, read from command-line flags (`--shards 8`) with
 * environment fallbacks (`BENCH_SHARDS=8`) and defaults sized so a full run stays well under
 * ten minutes on a 2-core machine. The `--quick` preset is the demo's short form. The same
 * declaration drives parsing and `--help`, so they cannot drift apart.
 */
import { parseArgs } from 'node:util'
import { DEFAULT_MODEL, type RemoteStoreModel } from './link-model.js'

export const SCENARIOS = ['cold', 'warm', 'loop', 'fuse', 'accelerator'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export interface HarnessConfig {
  shards: number
  shardBytes: number
  repeat: number
  /** Epochs of the dataset-twice-the-cache scenario. */
  loopEpochs: number
  model: RemoteStoreModel
  /** Records per batch in the accelerator scenario. */
  batch: number
  /** Accelerator step per batch, ms; undefined: derived so the step needs `stepShare` of the network limit. */
  stepMs: number | undefined
  stepShare: number
  scenarios: ScenarioName[]
  /** Concurrency and range size of the parallel ranged-GET baseline; 0: derived from the model. */
  rangedConcurrency: number
  rangedBytes: number
  /** Extra BlockReader options (JSON) merged over the harness's, for tuning experiments. */
  readerOptions: Record<string, unknown>
  resultsDir: string
  svgPath: string | undefined
  quick: boolean
}

export interface Flag {
  env: string
  help: string
  kind: 'number' | 'string' | 'boolean'
  default: number | string | boolean | undefined
}

/** Every flag the harness accepts; the CLI declares the same names (a test keeps them equal). */
export const FLAGS: Record<string, Flag> = {
  shards: { env: 'BENCH_SHARDS', kind: 'number', default: 8, help: 'TFRecord shards in the dataset' },
  'shard-mb': { env: 'BENCH_SHARD_MB', kind: 'number', default: 128, help: 'size of each shard, MB (10^6 bytes)' },
  repeat: { env: 'BENCH_REPEAT', kind: 'number', default: 3, help: 'repetitions of every measurement (median and spread reported)' },
  'loop-epochs': { env: 'BENCH_LOOP_EPOCHS', kind: 'number', default: 3, help: 'epochs of the dataset-twice-the-cache scenario' },
  'latency-ms': { env: 'BENCH_LATENCY_MS', kind: 'number', default: DEFAULT_MODEL.firstByteLatencyMs, help: 'model: first-byte latency per request, ms' },
  'connection-mbps': { env: 'BENCH_CONNECTION_MBPS', kind: 'number', default: DEFAULT_MODEL.connectionBytesPerSecond / 1e6, help: 'model: bandwidth per connection, MB/s' },
  'link-mbps': { env: 'BENCH_LINK_MBPS', kind: 'number', default: DEFAULT_MODEL.aggregateBytesPerSecond / 1e6, help: 'model: aggregate link cap, MB/s' },
  batch: { env: 'BENCH_BATCH', kind: 'number', default: 32, help: 'records per batch (accelerator scenario)' },
  'step-ms': { env: 'BENCH_STEP_MS', kind: 'number', default: undefined, help: 'accelerator step per batch, ms (default: needs --step-share of the network limit)' },
  'step-share': { env: 'BENCH_STEP_SHARE', kind: 'number', default: 0.8, help: 'share of the network limit the accelerator consumes when --step-ms is not given' },
  scenarios: { env: 'BENCH_SCENARIOS', kind: 'string', default: SCENARIOS.join(','), help: `comma-separated subset of ${SCENARIOS.join(',')}` },
  'ranged-concurrency': { env: 'BENCH_RANGED_CONCURRENCY', kind: 'number', default: 0, help: 'parallel ranged-GET baseline: requests at once (0: derived from the model)' },
  'ranged-mb': { env: 'BENCH_RANGED_MB', kind: 'number', default: 8, help: 'parallel ranged-GET baseline: range size, MiB' },
  'reader-options': { env: 'BENCH_READER_OPTIONS', kind: 'string', default: '{}', help: 'JSON merged over the BlockReader options (tuning experiments)' },
  cluster: { env: 'SLUICE_CLUSTER', kind: 'string', default: '', help: 'every sluice reader also uses this cluster tier: Redis Cluster nodes, comma-separated redis:// URLs (password from $SLUICE_CLUSTER_PASSWORD); its "cold" epochs then read what earlier ones left in the cluster' },
  'results-dir': { env: 'BENCH_RESULTS_DIR', kind: 'string', default: 'bench/results', help: 'where the JSON-lines file goes' },
  svg: { env: 'BENCH_SVG', kind: 'string', default: 'docs/benchmark.svg', help: 'chart output path ("" for none)' },
  quick: { env: 'BENCH_QUICK', kind: 'boolean', default: false, help: 'short form (the demo): 6 x 64 MB, one repetition, 2 loop epochs' },
  help: { env: '', kind: 'boolean', default: false, help: 'show this help' },
}

export function helpText(): string {
  const lines = ['Flags (environment fallback in brackets):']
  for (const [name, f] of Object.entries(FLAGS)) {
    const def = f.default === undefined ? '' : ` (default ${f.default === '' ? '""' : f.default})`
    lines.push(`  --${name.padEnd(20)} ${f.help}${def}${f.env ? ` [${f.env}]` : ''}`)
  }
  return lines.join('\n')
}

/** Parses argv; throws a TypeError naming the flag on a bad value. Returns undefined for --help. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<string, string | number | boolean>> = {}): HarnessConfig | undefined {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.entries(FLAGS).map(([k, f]) => [k, { type: f.kind === 'boolean' ? 'boolean' : 'string' }])) as Record<string, { type: 'string' | 'boolean' }>,
    strict: true,
    allowPositionals: false,
  })
  if (values.help) return undefined
  const quick = Boolean(values.quick ?? (env.BENCH_QUICK !== undefined ? env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true' : overrides.quick))
  const quickDefaults: Record<string, number> = { shards: 6, 'shard-mb': 64, repeat: 1, 'loop-epochs': 2 }
  const get = (name: string): number | string | boolean | undefined => {
    const f = FLAGS[name]!
    // flag, then environment, then the entry point's own defaults (the CLI's, the demo's), then ours
    const raw = values[name] ?? (f.env ? env[f.env] : undefined) ?? overrides[name]
    if (raw === undefined) return quick && name in quickDefaults ? quickDefaults[name] : f.default
    if (f.kind === 'boolean') return raw === true || raw === 'true' || raw === '1'
    if (f.kind === 'string') return String(raw)
    const n = Number(raw)
    if (!Number.isFinite(n) || n < 0) throw new TypeError(`bench: --${name} must be a non-negative number, got ${JSON.stringify(raw)}`)
    return n
  }
  const num = (name: string) => get(name) as number
  const scenarios = String(get('scenarios')).split(',').map((s) => s.trim()).filter(Boolean)
  for (const s of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new TypeError(`bench: unknown scenario ${JSON.stringify(s)}; known: ${SCENARIOS.join(', ')}`)
  }
  let readerOptions: Record<string, unknown>
  try {
    readerOptions = JSON.parse(String(get('reader-options'))) as Record<string, unknown>
  } catch {
    throw new TypeError('bench: --reader-options must be JSON')
  }
  const cluster = String(get('cluster')).split(',').map((n) => n.trim()).filter(Boolean)
  if (cluster.length > 0 && readerOptions.cluster === undefined) {
    const password = env.SLUICE_CLUSTER_PASSWORD
    readerOptions = { ...readerOptions, cluster: { nodes: cluster, ...(password ? { password } : {}) } }
  }
  const svg = String(get('svg'))
  const stepMs = get('step-ms')
  const config: HarnessConfig = {
    shards: Math.max(1, Math.round(num('shards'))),
    shardBytes: Math.round(num('shard-mb') * 1e6),
    repeat: Math.max(1, Math.round(num('repeat'))),
    loopEpochs: Math.max(2, Math.round(num('loop-epochs'))),
    model: {
      firstByteLatencyMs: num('latency-ms'),
      connectionBytesPerSecond: num('connection-mbps') * 1e6,
      aggregateBytesPerSecond: num('link-mbps') * 1e6,
    },
    batch: Math.max(1, Math.round(num('batch'))),
    stepMs: stepMs === undefined ? undefined : Number(stepMs),
    stepShare: num('step-share'),
    scenarios: scenarios as ScenarioName[],
    rangedConcurrency: Math.round(num('ranged-concurrency')),
    rangedBytes: Math.round(num('ranged-mb') * 1024 * 1024),
    readerOptions,
    resultsDir: String(get('results-dir')),
    svgPath: svg === '' ? undefined : svg,
    quick,
  }
  if (config.shardBytes < 1e6) throw new TypeError('bench: --shard-mb must be at least 1')
  return config
}
