/**
 * The benchmark harness (`npm run bench`, `sluice bench`, and in its short form
 * `npm run demo`): cold versus warm epochs of an ImageNet-like TFRecord dataset, side by
 * side with the limits, under a model of a remote object store.
 *
 * It starts s3rver on loopback (its own process), generates the dataset into it and onto
 * local disk, and puts the remote-store model (its own process) between every reader and the
 * server. Then, in rounds so that machine noise spreads evenly, it times the three baselines
 * and the five scenarios (bench/support/baselines.ts, scenarios.ts), writes every
 * measurement as a JSON line under bench/results/, and ends with the table, the targets and
 * the chart (docs/benchmark.svg). Everything it created is removed on the way out.
 *
 * `runHarness` is the entry the CLI and the demo call; run as a script it parses argv.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeS3Client, MiB } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { localPageCacheCrc, parallelRanged, rangedConcurrencyFor, sdkSequential } from './support/baselines.js'
import { helpText, parseConfig, type HarnessConfig } from './support/config.js'
import { timeEpoch } from './support/epoch-consumer.js'
import { createDataset } from './support/imagenet-dataset.js'
import { describeModel } from './support/link-model.js'
import { Progress } from './support/progress.js'
import { startRemoteStore } from './support/remote-store-process.js'
import { BASELINE_LABELS, JsonLines, measurement, summarise, type BaselineId, type Measurement, type Summary } from './support/results.js'
import { accelerator, coldAndWarm, fuse, loop, type ScenarioContext } from './support/scenarios.js'
import { renderChart } from './support/svg-chart.js'
import { progressNotes, renderTable, renderTargets } from './support/table.js'
import { checkTargets, type Verdict } from './support/targets.js'

/** sluice's default block size: the unit of the time-to-first-record bound. */
const BLOCK_BYTES = 4 * MiB

export interface HarnessResult {
  summaries: Summary[]
  verdicts: Verdict[]
  jsonlPath: string
  svgPath: string | undefined
}

function environment() {
  return { node: process.version, platform: process.platform, kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) }
}

export async function runHarness(config: HarnessConfig, progress = new Progress()): Promise<HarnessResult> {
  const runId = new Date().toISOString().replace(/[:.]/g, '-')
  const jsonl = new JsonLines(resolve(config.resultsDir, `bench-${runId}.jsonl`))
  const env = environment()
  const started = performance.now()
  const work = await mkdtemp(join(tmpdir(), 'sluice-bench-'))
  const all: Measurement[] = []
  const record = (m: Measurement) => {
    all.push(m)
    jsonl.write({ type: 'measurement', runId, ...m, model: config.model })
    progress.line(`  ${m.label.padEnd(46)} ${m.seconds.toFixed(2).padStart(7)} s ${m.mbPerSecond.toFixed(0).padStart(6)} MB/s  first record ${m.firstRecordMs.toFixed(0).padStart(5)} ms  waiting ${(100 * m.waitShare).toFixed(0).padStart(3)}%${progressNotes(m)}`)
  }

  progress.line(`sluice benchmark${config.quick ? ' (short form)' : ''}`)
  progress.line(`  ${describeModel(config.model)}.`)
  progress.line(`  This is a MODEL of a remote store (a pacing proxy in front of s3rver on loopback), not a real network.`)
  progress.line(`  machine: ${env.cpus} CPUs (${env.cpu}), ${env.memGiB} GiB, Linux ${env.kernel}, Node ${env.node}; the CPUs may be shared with other work, so figures carry noise`)
  const server = await startS3Server({ buckets: ['bench'], directory: join(work, 's3') })
  let store: Awaited<ReturnType<typeof startRemoteStore>> | undefined
  try {
    const uploadClient = makeS3Client(server.s3)
    const t0 = performance.now()
    const dataset = await createDataset(uploadClient, 'bench', 'imagenet/train/', join(work, 'local'), { shards: config.shards, shardBytes: config.shardBytes }, (done, total) =>
      progress.status(`  generating and uploading shards: ${done}/${total}`),
    )
    uploadClient.destroy()
    progress.line(
      `  dataset: ${dataset.shards.length} TFRecord shards, ${(dataset.bytes / 1e6).toFixed(0)} MB, ${dataset.records} ImageNet-like Examples ` +
        `(mean ${(dataset.bytes / dataset.records / 1e3).toFixed(0)} KB), generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
    store = await startRemoteStore(server.endpoint, config.model)
    const s3 = { ...server.s3, endpoint: store.endpoint }
    const client = makeS3Client(s3)
    const rangedConcurrency = config.rangedConcurrency || rangedConcurrencyFor(config.model, config.rangedBytes)
    jsonl.write({ type: 'config', runId, config, env, dataset: { shards: dataset.shards.length, bytes: dataset.bytes, records: dataset.records }, rangedConcurrency, blockBytes: BLOCK_BYTES })
    progress.line(`  repetitions: ${config.repeat}; parallel ranged-GET baseline: ${rangedConcurrency} requests of ${config.rangedBytes / MiB} MiB at once; results: ${jsonl.path}`)

    const ctx: ScenarioContext = { config, dataset, s3, work, progress, stepMs: config.stepMs ?? 0, storeCounts: () => store!.counts() }
    const runBaseline = async (id: BaselineId, repeat: number, make: () => AsyncIterable<Uint8Array>) => {
      let bytes = 0
      async function* counted() {
        for await (const c of make()) {
          bytes += c.length
          yield c
        }
      }
      const t = await progress.during(() => `  ${BASELINE_LABELS[id]}: ${Math.round((100 * bytes) / dataset.bytes)}%`, timeEpoch(counted))
      if (t.bytes !== dataset.bytes) throw new Error(`baseline ${id} read ${t.bytes} bytes, expected ${dataset.bytes}`)
      const m = measurement({ id: `baseline_${id}`, label: BASELINE_LABELS[id], scenario: 'baseline', kind: 'baseline', repeat, datasetBytes: dataset.bytes, records: dataset.records }, t)
      record(m)
      return m
    }

    for await (const _ of localPageCacheCrc(dataset)); // warm the page cache for the local limit
    const want = new Set(config.scenarios)
    for (let r = 1; r <= config.repeat; r++) {
      progress.line(`round ${r}/${config.repeat}`)
      await runBaseline('local_pagecache_crc', r, () => localPageCacheCrc(dataset))
      const net = await runBaseline('parallel_ranged', r, () => parallelRanged(client, dataset, rangedConcurrency, config.rangedBytes))
      await runBaseline('sdk_sequential', r, () => sdkSequential(client, dataset))
      if (ctx.stepMs === 0) {
        // The step that consumes stepShare of the network limit, fixed from the first round on.
        const batchBytes = (dataset.bytes / dataset.records) * config.batch
        ctx.stepMs = (batchBytes / (config.stepShare * net.mbPerSecond * 1e6)) * 1000
      }
      if (want.has('cold') || want.has('warm')) for (const m of await coldAndWarm(ctx, r, want.has('warm'))) record(m)
      if (want.has('loop')) for (const m of await loop(ctx, r)) record(m)
      if (want.has('fuse')) {
        const { fuseAvailability } = await import('../fuse/index.js')
        const fa = await fuseAvailability()
        if (fa.available) for (const m of await fuse(ctx, r)) record(m)
        else if (r === 1) {
          progress.line(`  FUSE scenario skipped: ${fa.reason}`)
          jsonl.write({ type: 'skipped', runId, scenario: 'fuse', reason: fa.reason })
        }
      }
      if (want.has('accelerator')) for (const m of await accelerator(ctx, r)) record(m)
    }
    client.destroy()

    const summaries = summarise(all)
    const verdicts = checkTargets(summaries, config, BLOCK_BYTES)
    const storeCounts = await store.counts()
    const minutes = (performance.now() - started) / 60000
    progress.line('')
    progress.line(`Results: medians of ${config.repeat} run(s); MB/s = dataset file bytes (${(dataset.bytes / 1e6).toFixed(0)} MB) / epoch time; ratios against each baseline's median.`)
    progress.line(`Under the ${describeModel(config.model)}.`)
    progress.line(renderTable(summaries))
    progress.line('')
    progress.line('Targets (issue 5):')
    progress.line(renderTargets(verdicts))
    progress.line(`\n  proxy saw ${storeCounts.requests} requests (${storeCounts.gets} GETs, ${storeCounts.heads} HEADs, ${storeCounts.lists} listings), ${(storeCounts.bodyBytes / 1e6).toFixed(0)} MB; run took ${minutes.toFixed(1)} min`)
    jsonl.write({ type: 'summary', runId, config, env, summaries, verdicts, storeCounts, stepMs: ctx.stepMs, minutes })
    let svgPath: string | undefined
    if (config.svgPath) {
      svgPath = resolve(config.svgPath)
      await mkdir(dirname(svgPath), { recursive: true })
      const subtitle = `${dataset.shards.length} shards, ${(dataset.bytes / 1e6).toFixed(0)} MB; ${config.repeat} run(s); ${env.cpus} CPUs.`
      await writeFile(svgPath, renderChart(summaries, config.model, subtitle))
      progress.line(`  chart: ${svgPath}`)
    }
    progress.line(`  every measurement: ${jsonl.path}`)
    return { summaries, verdicts, jsonlPath: jsonl.path, svgPath }
  } finally {
    await store?.close()
    await server.close()
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let config: HarnessConfig | undefined
  try {
    config = parseConfig(process.argv.slice(2))
  } catch (err) {
    console.error((err as Error).message)
    process.exit(2)
  }
  if (!config) {
    console.log(`usage: npm run bench [-- flags]   (or: node dist/bench/harness.js [flags])\n${helpText()}`)
    process.exit(0)
  }
  await runHarness(config)
}
