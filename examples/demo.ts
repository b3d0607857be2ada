/**
 * `npm run demo`: the short form of the benchmark, the first command a newcomer runs. In
 * about a minute it starts an S3-compatible server on loopback (s3rver), generates a small
 * ImageNet-like TFRecord dataset into it (6 shards x 64 MB), puts a MODEL of a remote object
 * store in front of it (20 ms first-byte latency per request, 50 MB/s per connection,
 * 200 MB/s for the link), and reads the dataset through sluice: a cold epoch, warm epochs
 * from the memory tier and from the disk tier after a restart, a dataset twice the cache,
 * the FUSE mount, and a consumer with a simulated accelerator step; next to a plain
 * sequential GetObject stream, parallel ranged GETs (the network limit) and local files
 * (the local limit). Progress is shown while it runs; everything it created is removed at
 * the end except the results (JSON lines and a chart under bench/results/).
 *
 * It is bench/harness.ts with the `--quick` preset; flags and BENCH_* variables work here
 * too (`npm run demo -- --latency-ms 50`). The full benchmark: `npm run bench`.
 */
import { runHarness } from '../bench/harness.js'
import { helpText, parseConfig } from '../bench/support/config.js'

const config = parseConfig(process.argv.slice(2), process.env, { quick: true, svg: 'bench/results/demo.svg' })
if (!config) {
  console.log(`usage: npm run demo [-- flags]\n${helpText()}`)
} else {
  const started = performance.now()
  const result = await runHarness(config)
  const cold = result.summaries.find((s) => s.id === 'cold')
  const warm = result.summaries.find((s) => s.id === 'warm_memory')
  if (cold && warm) {
    console.log(
      `\nIn short: the first epoch came from the (modelled) remote store at ${cold.mbPerSecond.median.toFixed(0)} MB/s; ` +
        `the next one from sluice's memory tier at ${warm.mbPerSecond.median.toFixed(0)} MB/s (${(warm.mbPerSecond.median / cold.mbPerSecond.median).toFixed(0)}x). ` +
        `Demo took ${((performance.now() - started) / 1000).toFixed(0)} s. The full benchmark: npm run bench (docs/benchmark.md).`,
    )
  }
}
