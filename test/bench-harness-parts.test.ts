/**
 * The harness's pure pieces: configuration precedence (flag, environment, entry-point
 * default, harness default) and the CLI declaring exactly the harness's flags; the
 * summaries (median and spread, ratios to each baseline); the target verdicts; the chart
 * (well-formed, says it is a model and with which parameters); and the generated dataset
 * (ImageNet-like Examples whose mean size is about 110 KB, deterministic); and the printed
 * progress lines and table (bytes from the source and hit ratio per tier). Nothing here is
 * timed.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader } from '../lib/index.js'
import { decodeExample, tfrecords } from '../loaders/tfrecord/index.js'
import { FLAGS, parseConfig } from '../bench/support/config.js'
import { imagenetShard } from '../bench/support/imagenet-dataset.js'
import { measurement, stat, summarise, type Measurement } from '../bench/support/results.js'
import { checkTargets } from '../bench/support/targets.js'
import { renderChart } from '../bench/support/svg-chart.js'
import { progressNotes, renderTable, sourceAndHits } from '../bench/support/table.js'
import { BENCH_OPTIONS } from '../bin/commands/bench.js'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const test = suite('bench-harness-parts')

test('config: a flag beats the environment, which beats the entry point default, which beats ours', () => {
  assert.is(parseConfig([], {})!.shards, 8)
  assert.is(parseConfig([], {}, { shards: 5 })!.shards, 5)
  assert.is(parseConfig([], { BENCH_SHARDS: '3' }, { shards: 5 })!.shards, 3)
  assert.is(parseConfig(['--shards', '2'], { BENCH_SHARDS: '3' }, { shards: 5 })!.shards, 2)
  const m = parseConfig(['--latency-ms', '50', '--connection-mbps', '25', '--link-mbps', '100'], {})!.model
  assert.equal(m, { firstByteLatencyMs: 50, connectionBytesPerSecond: 25e6, aggregateBytesPerSecond: 100e6 })
})

test('config: --quick is the short form, and its sizes still yield to explicit flags', () => {
  const q = parseConfig(['--quick'], {})!
  assert.is(q.repeat, 1)
  assert.is(q.shards, 6)
  assert.is(parseConfig(['--quick', '--repeat', '2'], {})!.repeat, 2)
  assert.is(parseConfig([], {}, { quick: true })!.quick, true)
})

test('config: bad values and unknown scenarios are refused with the flag named', () => {
  assert.throws(() => parseConfig(['--shards', 'many'], {}), /--shards/)
  assert.throws(() => parseConfig(['--scenarios', 'cold,nope'], {}), /nope/)
  assert.throws(() => parseConfig(['--reader-options', '{'], {}), /reader-options/)
  assert.is(parseConfig(['--help'], {}), undefined)
})

test('the CLI declares exactly the harness flags', () => {
  const harness = Object.keys(FLAGS).filter((k) => k !== 'help').sort()
  assert.equal(Object.keys(BENCH_OPTIONS).sort(), harness)
})

function fake(id: string, kind: 'baseline' | 'scenario', mbps: number[], extra: Record<string, number>[] = []): Measurement[] {
  return mbps.map((v, i) =>
    measurement({ id, label: id, scenario: id, kind, repeat: i + 1, datasetBytes: 100e6, records: 1000 }, { seconds: 100 / v, items: 1000, bytes: 100e6, firstItemMs: 100, waitMs: 50 }, extra[i] ?? {}),
  )
}

test('summaries: median and min-max per id, and every ratio against each baseline median', () => {
  assert.equal(stat([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 })
  assert.is(stat([1, 2, 3, 4]).median, 2.5)
  const s = summarise([
    ...fake('baseline_sdk_sequential', 'baseline', [50, 50, 50]),
    ...fake('baseline_parallel_ranged', 'baseline', [190, 200, 210]),
    ...fake('baseline_local_pagecache_crc', 'baseline', [2000, 2000, 2000]),
    ...fake('cold', 'scenario', [150, 170, 160]),
  ])
  const cold = s.find((x) => x.id === 'cold')!
  assert.ok(Math.abs(cold.mbPerSecond.median - 160) < 1e-9)
  assert.ok(Math.abs(cold.ratios.parallel_ranged! - 0.8) < 1e-9)
  assert.ok(Math.abs(cold.ratios.sdk_sequential! - 3.2) < 1e-9)
  assert.ok(Math.abs(cold.ratios.local_pagecache_crc! - 0.08) < 1e-9)
  assert.ok(Math.abs(cold.waitShare.median - 0.05 / (100 / 160)) < 1e-9)
})

test('targets: met, missed and not measured are told apart; loop epochs judged on the worst run', () => {
  const config = parseConfig([], {})!
  const s = summarise([
    ...fake('baseline_sdk_sequential', 'baseline', [50]),
    ...fake('baseline_parallel_ranged', 'baseline', [200]),
    ...fake('baseline_local_pagecache_crc', 'baseline', [2000]),
    ...fake('cold', 'scenario', [170]),
    ...fake('loop_epoch2', 'scenario', [150, 150], [{ hitShare: 0.5 }, { hitShare: 0.3 }]),
  ])
  const v = checkTargets(s, config, 4 * 2 ** 20)
  const find = (re: RegExp) => v.find((x) => re.test(x.target))!
  assert.is(find(/network limit/).met, true)
  assert.is(find(/sequential SDK/).met, true)
  assert.is(find(/epoch 2/).met, false)
  assert.is(find(/epoch 2/).value, '30%')
  assert.is(find(/warm memory vs cold/).met, undefined)
  assert.is(find(/first record/).met, true)
})

test('chart: well-formed SVG that names the model and its parameters and draws every baseline', () => {
  const s = summarise([
    ...fake('baseline_sdk_sequential', 'baseline', [50]),
    ...fake('baseline_parallel_ranged', 'baseline', [200]),
    ...fake('baseline_local_pagecache_crc', 'baseline', [2000]),
    ...fake('cold', 'scenario', [150, 170]),
    ...fake('warm_memory', 'scenario', [1500]),
  ])
  const svg = renderChart(s, { firstByteLatencyMs: 20, connectionBytesPerSecond: 50e6, aggregateBytesPerSecond: 200e6 }, 'test <run>')
  assert.match(svg, /^<svg /)
  assert.match(svg, /MODEL of a remote object store: 20 ms first-byte latency per request, 50 MB\/s per connection, 200 MB\/s aggregate/)
  assert.match(svg, /test &lt;run&gt;/)
  for (const name of ['sequential GetObject', 'network limit', 'local limit']) assert.ok(svg.includes(name), name)
  const opened = (svg.match(/<(svg|text)\b/g) ?? []).length
  const closed = (svg.match(/<\/(svg|text)>/g) ?? []).length
  assert.is(opened, closed)
})

test('printed output: every sluice pass shows bytes from the source and the hit ratio of each tier', () => {
  const tiers = (sourceBytes: number, memoryHitRatio: number, diskHitRatio: number) => ({ sourceBytes, memoryHitRatio, diskHitRatio, hitShare: 1 - sourceBytes / 100e6, sourceGets: 25 })
  const cold = fake('cold', 'scenario', [150], [tiers(100.4e6, 0, 0)])
  const warmDisk = fake('warm_disk', 'scenario', [900], [tiers(0, 0, 1)])
  // The memory tier served every block, so the disk tier saw no lookup: NaN, printed as '-'.
  const warmMemory = fake('warm_memory', 'scenario', [1500, 1600], [tiers(0, 1, NaN), tiers(0, 0.98, NaN)])
  const loop2 = fake('loop_epoch2', 'scenario', [300], [tiers(50e6, 0.1, 0.55)])
  const sdk = fake('baseline_sdk_sequential', 'baseline', [50])

  // Per-round progress lines, from one measurement record.
  assert.is(progressNotes(cold[0]!), '  from source 100 MB, hits memory 0% disk 0%')
  assert.is(progressNotes(warmDisk[0]!), '  from source 0 MB, hits memory 0% disk 100%')
  assert.is(progressNotes(warmMemory[0]!), '  from source 0 MB, hits memory 100% disk -')
  assert.is(progressNotes(loop2[0]!), '  not fetched 50%  from source 50 MB, hits memory 10% disk 55%')
  assert.is(progressNotes(sdk[0]!), '', 'a baseline has no sluice reader')
  assert.is(sourceAndHits({}), undefined)

  // The summary table: medians, in the notes column, beside the existing notes.
  const rows = renderTable(summarise([...sdk, ...cold, ...warmMemory, ...warmDisk, ...loop2])).split('\n')
  const row = (label: string) => rows.find((r) => r.startsWith(label))!
  assert.match(row('cold'), /from source 100 MB, hits memory 0% disk 0%, 25 GETs/)
  assert.match(row('warm_memory'), /bytes not fetched 100% \(min 100%\), from source 0 MB, hits memory 99% disk -/)
  assert.match(row('warm_disk'), /from source 0 MB, hits memory 0% disk 100%/)
  assert.match(row('loop_epoch2'), /from source 50 MB, hits memory 10% disk 55%/)
  assert.not.match(row('baseline_sdk_sequential'), /from source/)
  assert.match(rows[0]!, /^measurement +epoch s +MB\/s +\(min-max\) +rec\/s +1st rec +wait +xSDK +%net +%local +notes$/)
})

test('dataset: ImageNet-like Examples, mean about 110 KB, sizes varying, the same bytes every time', async () => {
  const a = imagenetShard(0, 20e6)
  const b = imagenetShard(0, 20e6)
  assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), 'deterministic')
  assert.not.ok(Buffer.from(imagenetShard(1, 2e6).data).equals(Buffer.from(imagenetShard(0, 2e6).data)))
  const dir = await mkdtemp(join(tmpdir(), 'bench-dataset-'))
  try {
    const path = join(dir, 'shard.tfrecord')
    await writeFile(path, a.data)
    const sizes: number[] = []
    let n = 0
    const reader = new BlockReader()
    for await (const rec of tfrecords(reader, pathToFileURL(path).href)) {
      n++
      sizes.push(rec.length)
      if (n === 1) {
        const ex = decodeExample(rec)
        for (const f of ['image/encoded', 'image/format', 'image/class/label', 'image/height', 'image/width', 'image/filename', 'image/object/bbox/xmin']) assert.ok(ex[f], f)
      }
    }
    assert.is(n, a.records)
    const mean = sizes.reduce((x, y) => x + y, 0) / sizes.length
    assert.ok(mean > 95_000 && mean < 125_000, `mean record ${mean}`)
    assert.ok(Math.min(...sizes) < 70_000 && Math.max(...sizes) > 160_000, 'sizes vary')
    await reader.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('--cluster (or SLUICE_CLUSTER) gives every sluice reader of the harness the cluster tier, password from the environment', () => {
  const config = parseConfig(['--cluster', 'redis://10.0.0.1:6379, redis://10.0.0.2:6379'], { SLUICE_CLUSTER_PASSWORD: 'pw' })!
  assert.equal(config.readerOptions.cluster, { nodes: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'], password: 'pw' })
  assert.equal(parseConfig([], { SLUICE_CLUSTER: 'redis://h:1' })!.readerOptions.cluster, { nodes: ['redis://h:1'] })
  assert.is(parseConfig([], {})!.readerOptions.cluster, undefined, 'no cluster unless asked')
})

test.run()
