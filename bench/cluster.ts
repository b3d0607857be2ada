/**
 * The cluster benchmark of issue 14 (`node dist/bench/cluster.js [flags]`): what the cluster
 * tier saves a training cluster whose nodes read the same dataset, under the harness's model
 * of a remote object store (the "lake"). Node processes, each with its own cache directory
 * and memory tier, share one Redis Cluster on loopback; the model counts every byte the lake
 * serves. The phases (bench/support/cluster-phases.ts):
 *
 * a. one node alone, lake-cold, then LMDB-warm (the baselines);
 * b. N nodes reading at once, without a cluster ("today") and sharing one;
 * c. a node joining later, its own tiers empty, the cluster warm, and the least such a node
 *    must do on this machine to fill one local tier (receive the values into new buffers
 *    and keep them; or into reused buffers and write them to a file): the floors its
 *    targets are held against (support/cluster-floor.ts);
 * d. per maxmemory policy, a cluster holding half the dataset, two epochs (the cyclic scan
 *    that chooses the recommended eviction policy).
 *
 * The single-node phases (a, c) and the floors run `--repeat` times (3); the targets take
 * the medians, because single runs on a shared 2-vCPU VM vary by a fifth and more.
 *
 * It prints the configuration, a line per phase as it ends, then the table and the targets,
 * and ends with one JSON line (also written with every phase under bench/results/). Every
 * process, redis-server and temp directory it started is removed on the way out, on failure
 * and on SIGINT / SIGTERM too.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeS3Client, MiB } from '../lib/index.js'
import { redisClusterMissing, startS3Server } from '../lib/testing/index.js'
import { clusterHelpText, parseClusterConfig, type ClusterBenchConfig } from './support/cluster-config.js'
import { checkClusterTargets, lakePerDatasetByte, nodeMbps, notFetchedShare, policyScores, recommendedPolicy, renderClusterTable, renderFloors, type PhaseResult } from './support/cluster-figures.js'
import { aloneColdAndWarm, cyclicEpochs, sharedAndJoining, smallClusterMaxmemory, smallTiers, type PhaseContext } from './support/cluster-phases.js'
import { createDataset } from './support/imagenet-dataset.js'
import { describeModel } from './support/link-model.js'
import { startRemoteStore } from './support/remote-store-process.js'
import { JsonLines } from './support/results.js'
import { renderTargets } from './support/table.js'

/** Steps that undo what the run started, last first; run once, on success, failure or a signal. */
class Cleanup {
  private readonly steps: (() => Promise<unknown>)[] = []
  private running: Promise<void> | undefined
  add(step: () => Promise<unknown>): void {
    this.steps.push(step)
  }
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) await step().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`))
    })()
    return this.running
  }
}

function environment() {
  return { node: process.version, platform: process.platform, kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) }
}

export async function runClusterBench(config: ClusterBenchConfig, cleanup: Cleanup): Promise<void> {
  const runId = new Date().toISOString().replace(/[:.]/g, '-')
  const jsonl = new JsonLines(resolve(config.resultsDir, `cluster-${runId}.jsonl`))
  const env = environment()
  const started = performance.now()
  const log = (line: string) => process.stdout.write(line + '\n')

  const work = await mkdtemp(join(tmpdir(), 'sluice-cluster-bench-'))
  cleanup.add(() => rm(work, { recursive: true, force: true }))
  const server = await startS3Server({ buckets: ['bench'], directory: join(work, 's3') })
  cleanup.add(() => server.close())
  const upload = makeS3Client(server.s3)
  const dataset = await createDataset(upload, 'bench', 'imagenet/train/', join(work, 'local'), { shards: config.shards, shardBytes: config.shardBytes })
  upload.destroy()
  await rm(join(work, 'local'), { recursive: true, force: true }) // the local copy is the harness's baseline, not ours
  const store = await startRemoteStore(server.endpoint, config.model)
  cleanup.add(() => store.close())

  const smallCluster = smallClusterMaxmemory(dataset.bytes, config.memoryShare, config.masters)
  const small = smallTiers(dataset.bytes)
  log(`sluice cluster benchmark (issue 14), results: ${jsonl.path}`)
  log(`  ${describeModel(config.model)}.`)
  log(`  This is a MODEL of a remote store (a pacing proxy in front of s3rver on loopback), not a real network; Redis runs on loopback too.`)
  log(`  machine: ${env.cpus} CPUs (${env.cpu}), ${env.memGiB} GiB, Linux ${env.kernel}, Node ${env.node}; every process shares these CPUs`)
  log(`  dataset: ${dataset.shards.length} TFRecord shards, ${(dataset.bytes / 1e6).toFixed(0)} MB, ${dataset.records} records; each node reads it all with tfrecords(), CRCs checked`)
  log(`  nodes: ${config.nodes} at once (b), each a process with its own cache directory, memory and disk tiers of ${((dataset.bytes * 1.5) / 1e6).toFixed(0)} MB; a ${config.masters}-master Redis Cluster, no maxmemory`)
  log(
    `  small cluster (d): maxmemory ${(smallCluster / MiB).toFixed(1)} MiB per master (${(100 * config.memoryShare).toFixed(0)}% of the dataset in all), ` +
      `${config.cyclicNodes} node(s) with a memory tier of ${(small.memoryBytes / MiB).toFixed(0)} MiB (read-ahead ${(small.readAheadBytes / MiB).toFixed(0)} MiB) and a disk tier of ${(small.diskBytes / MiB).toFixed(0)} MiB, ` +
      `${config.cyclicEpochs} epochs, policies ${config.policies.join(', ')}`,
  )
  jsonl.write({ type: 'config', runId, config, env, dataset: { shards: dataset.shards.length, bytes: dataset.bytes, records: dataset.records }, smallClusterMaxmemoryPerMaster: smallCluster, smallTiers: small })

  const phases: PhaseResult[] = []
  const ctx: PhaseContext = {
    config,
    dataset,
    s3: { ...server.s3, endpoint: store.endpoint },
    work,
    lake: () => store.counts(),
    record: (p) => {
      phases.push(p)
      jsonl.write({ type: 'phase', runId, ...p })
      const each = p.nodes.map((n) => `${n.seconds.toFixed(2)} s (${nodeMbps(p, n).toFixed(0)} MB/s)`).join(', ')
      log(`  ${p.label.padEnd(60)} ${each}; lake ${(p.lakeBytes / 1e6).toFixed(0)} MB = ${lakePerDatasetByte(p).toFixed(2)} x dataset`)
    },
  }
  const want = new Set(config.phases)
  if (want.has('alone')) await aloneColdAndWarm(ctx)
  const joined = want.has('shared') ? await sharedAndJoining(ctx) : undefined
  const redisBytesPerBlock = joined?.redisBytesPerBlock ?? NaN
  const floors = joined?.floors ?? {}
  if (want.has('cyclic')) for (const policy of config.policies) await cyclicEpochs(ctx, policy)

  const verdicts = checkClusterTargets(phases)
  const recommended = recommendedPolicy(phases)
  const minutes = (performance.now() - started) / 60000
  log('')
  log(`Results: MB/s = dataset file bytes (${(dataset.bytes / 1e6).toFixed(0)} MB) / a node's epoch time; lake = response body bytes the model served during the phase; not fetched = 1 - lake / dataset.`)
  log(renderClusterTable(phases))
  for (const line of renderFloors(floors, phases)) log(line)
  if (Number.isFinite(redisBytesPerBlock)) log(`  Redis charges ${(redisBytesPerBlock / MiB).toFixed(2)} MiB for a value holding one 4 MiB block (header and allocator rounding included).`)
  log('')
  log('Targets (issue 14):')
  log(renderTargets(verdicts))
  if (recommended) log(`  recommended maxmemory policy for cyclic epochs: ${recommended} (${policyScores(phases).map((s) => `${s.policy} ${(100 * s.worst).toFixed(0)}%${s.errors > 0 ? ` (${s.errors} cluster-tier errors)` : ''}`).join(', ')} not fetched)`)
  log(`  run took ${minutes.toFixed(1)} min`)
  const summary = {
    type: 'summary',
    runId,
    env,
    config,
    dataset: { bytes: dataset.bytes, records: dataset.records },
    figures: Object.fromEntries(phases.map((p) => [p.id === 'cyclic' ? `cyclic_${p.policy}_epoch${p.epoch}` : p.run === undefined ? p.id : `${p.id}_run${p.run}`, { seconds: p.nodes.map((n) => n.seconds), mbPerSecond: p.nodes.map((n) => nodeMbps(p, n)), lakePerDatasetByte: lakePerDatasetByte(p), notFetched: notFetchedShare(p) }])),
    redisBytesPerBlock,
    floors,
    verdicts,
    recommendedPolicy: recommended,
    minutes,
  }
  jsonl.write(summary)
  log(JSON.stringify(summary))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let config: ClusterBenchConfig | undefined
  try {
    config = parseClusterConfig(process.argv.slice(2))
  } catch (err) {
    console.error((err as Error).message)
    process.exit(2)
  }
  if (!config) {
    console.log(clusterHelpText())
    process.exit(0)
  }
  const missing = redisClusterMissing()
  if (missing) {
    console.error(`bench cluster: ${missing}`)
    process.exit(2)
  }
  const cleanup = new Cleanup()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping, cleaning up`)
      void cleanup.run().finally(() => process.exit(130))
    })
  }
  let code = 0
  try {
    await runClusterBench(config, cleanup)
  } catch (err) {
    console.error(`bench cluster failed: ${(err as Error).stack ?? String(err)}`)
    code = 1
  } finally {
    await cleanup.run()
  }
  process.exit(code)
}
