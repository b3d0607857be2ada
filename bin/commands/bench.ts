/**
 * `sluice bench`: the benchmark harness (bench/harness.ts): cold versus warm epochs of a
 * generated ImageNet-like TFRecord dataset, side by side with the limits, under a model of a
 * remote object store. A thin shell: it declares the harness's flags for parsing and help
 * and runs it. The harness is loaded only when this command runs, so the rest of the CLI
 * works in an install without the bench/ directory; there it says how to get it.
 *
 * The flag list repeats bench/support/config.ts's names (the CLI cannot import that module
 * eagerly, for the reason above); test/bench-config.test.ts keeps the two equal.
 */
import type { Command, OptionSpecs } from '../support/command.js'
import { ExitCode, UsageError } from '../support/exit-codes.js'

const n = (help: string, value = 'n'): OptionSpecs[string] => ({ type: 'string', value, help })

export const BENCH_OPTIONS: OptionSpecs = {
  quick: { type: 'boolean', help: 'Short form (what npm run demo runs): 6 x 64 MB, one repetition, about a minute.' },
  shards: n('TFRecord shards in the generated dataset (default 8).'),
  'shard-mb': n('Size of each shard in MB, 10^6 bytes (default 128).', 'mb'),
  repeat: n('Repetitions of every measurement; medians and spread are reported (default 3).'),
  'loop-epochs': n('Epochs of the dataset-twice-the-cache scenario (default 3).'),
  'latency-ms': n('Model: first-byte latency per request (default 20).', 'ms'),
  'connection-mbps': n('Model: bandwidth per connection in MB/s (default 50).', 'mbps'),
  'link-mbps': n('Model: aggregate link cap in MB/s (default 200).', 'mbps'),
  batch: n('Records per batch in the accelerator scenario (default 32).'),
  'step-ms': n('Accelerator step per batch (default: needs --step-share of the network limit).', 'ms'),
  'step-share': n('Share of the network limit the accelerator consumes (default 0.8).', 'x'),
  scenarios: n('Comma-separated subset of cold,warm,loop,fuse,accelerator.', 'list'),
  'ranged-concurrency': n('Parallel ranged-GET baseline: requests at once (default: from the model).'),
  'ranged-mb': n('Parallel ranged-GET baseline: range size in MiB (default 8).', 'mib'),
  'reader-options': n('JSON merged over the BlockReader options, for tuning experiments.', 'json'),
  cluster: n('Every sluice reader also uses this cluster tier: Redis Cluster nodes, comma-separated redis:// URLs (default $SLUICE_CLUSTER; password from $SLUICE_CLUSTER_PASSWORD).', 'urls'),
  'results-dir': n('Where the JSON-lines file of every measurement goes (default ./sluice-bench-results).', 'dir'),
  svg: n('Where the chart goes (default <results-dir>/benchmark.svg; "" for none).', 'path'),
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Benchmark cold versus warm epochs under a model of a remote object store.',
  usage: ['sluice bench [--quick] [options]'],
  description: `
Starts an S3-compatible server (s3rver) on loopback, generates an ImageNet-like TFRecord
dataset into it, and puts a MODEL of a remote object store in front of it (first-byte latency
per request, a bandwidth cap per connection and an aggregate link cap; it is a model, not a
real network). Then it times, with the TFRecord iterator through sluice: a cold epoch; warm
epochs from the memory tier and, after a restart, the disk tier; a dataset twice the cache
over several epochs; the same through the FUSE mount (skipped with the reason when FUSE is
unavailable); and a consumer with a simulated accelerator step per batch. Baselines on the
same bytes: a plain sequential GetObject stream, parallel ranged GETs (the network limit),
and local files through the page cache with CRC32C (the local limit). Prints a table with
every result's ratio to each baseline and the targets, writes every measurement as JSON
lines and an SVG chart. Flags also read BENCH_* environment variables (see docs/benchmark.md).`,
  groups: [{ title: 'Benchmark', options: BENCH_OPTIONS }],
  examples: ['sluice bench --quick', 'sluice bench --repeat 5 --latency-ms 50 --link-mbps 100', 'sluice bench --scenarios cold,warm --reader-options \'{"prefetch":{"coalesceBytes":8388608}}\''],
  positionals: [0, 0],
  async run(ctx) {
    let harness: typeof import('../../bench/harness.js')
    let config: typeof import('../../bench/support/config.js')
    try {
      harness = await import('../../bench/harness.js')
      config = await import('../../bench/support/config.js')
    } catch (err) {
      ctx.log(`the benchmark harness is not installed here (${(err as Error).message.split('\n')[0]}); run it from a source checkout: npm run bench`)
      return ExitCode.FAILURE
    }
    const argv: string[] = []
    for (const name of Object.keys(BENCH_OPTIONS)) {
      const v = ctx.values[name]
      if (v === true) argv.push(`--${name}`)
      else if (typeof v === 'string') argv.push(`--${name}`, v)
    }
    const resultsDir = typeof ctx.values['results-dir'] === 'string' ? ctx.values['results-dir'] : 'sluice-bench-results'
    let parsed
    try {
      parsed = config.parseConfig(argv, process.env, { 'results-dir': resultsDir, svg: `${resultsDir}/benchmark.svg` })
    } catch (err) {
      throw new UsageError(`${(err as Error).message.replace(/^bench: /, '')}; see: sluice bench --help`)
    }
    if (!parsed) return ExitCode.OK
    await harness.runHarness(parsed)
    return ExitCode.OK
  },
}
