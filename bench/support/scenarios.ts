/**
 * The five scenarios of the harness, each a function that runs one repetition and returns
 * its measurements. All read the same shards through the remote-store model with the
 * TFRecord iterator (`tfrecords()`, both CRCs of every record checked) and a BlockReader
 * with sluice's defaults, except for the cache sizes each scenario is about:
 *
 * 1. cold: a fresh cache directory, every byte from the store;
 * 2. warm: the same reader again (memory tier), then a new reader on the same directory
 *    (disk tier after a restart; LMDB's pages may be in the OS page cache, as after a
 *    process restart on a real node);
 * 3. loop: the disk tier half the dataset, several epochs, bytes from the store per epoch;
 * 4. fuse: a mount over a fresh reader, read by another process, cold then through a new
 *    mount (kernel page cache empty, sluice memory tier warm);
 * 5. accelerator: a fresh cache, batches with a simulated accelerator step.
 */
import { spawn } from 'node:child_process'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BlockReader, MiB, type BlockReaderOptions, type ReaderStats, type S3Options } from '../../lib/index.js'
import { tfrecords } from '../../loaders/tfrecord/index.js'
import type { HarnessConfig } from './config.js'
import { acceleratorEpoch, timeEpoch, type EpochTiming } from './epoch-consumer.js'
import type { Dataset } from './imagenet-dataset.js'
import type { Progress } from './progress.js'
import type { RemoteStoreCounts } from './remote-store-proxy.js'
import { measurement, type Measurement } from './results.js'

export interface ScenarioContext {
  config: HarnessConfig
  dataset: Dataset
  /** S3 options pointing at the remote-store model. */
  s3: S3Options
  work: string
  progress: Progress
  /** Accelerator step per batch, ms (fixed after the first network-limit measurement). */
  stepMs: number
  /** The remote-store model's counters (requests in flight over an epoch come from these). */
  storeCounts: () => Promise<RemoteStoreCounts>
}

let dirs = 0
function freshDir(ctx: ScenarioContext, what: string): string {
  return join(ctx.work, `${what}-${dirs++}`)
}

/** Harness sizes, sluice's defaults for everything else, then the user's tuning JSON on top. */
export function readerOptions(ctx: ScenarioContext, sizes: BlockReaderOptions): BlockReaderOptions {
  const user = ctx.config.readerOptions as BlockReaderOptions
  const merged: Record<string, unknown> = { s3: ctx.s3, ...sizes, ...user }
  for (const k of ['memory', 'disk', 'prefetch', 'retry'] as const) {
    const a = (sizes as Record<string, unknown>)[k]
    const b = (user as Record<string, unknown>)[k]
    if (a !== undefined || b !== undefined) merged[k] = { ...(a as object), ...(b as object) }
  }
  return merged as BlockReaderOptions
}

/**
 * The shards as a training job names them: one glob, resolved by one listing. (A list of
 * URLs would cost a metadata request per shard before the first record; see docs/benchmark.md.)
 */
export function shardGlob(ds: Dataset): string {
  return `s3://${ds.bucket}/${ds.prefix}*.tfrecord`
}

function tier(s: ReaderStats, name: string) {
  return s.tiers.find((t) => t.name === name) ?? { hits: 0, misses: 0, hitBytes: 0 }
}

function diskCounter(s: ReaderStats, key: 'droppedFills' | 'evictions'): number {
  return s.tiers.find((t) => t.name === 'disk')?.[key] ?? 0
}

/** What the reader did during one epoch: bytes and requests to the store, hits per tier. */
function readerDelta(before: ReaderStats, after: ReaderStats, datasetBytes: number): Record<string, number> {
  const sourceBytes = after.source.bytes - before.source.bytes
  const ratio = (name: string) => {
    const h = tier(after, name).hits - tier(before, name).hits
    const m = tier(after, name).misses - tier(before, name).misses
    return h + m === 0 ? NaN : h / (h + m)
  }
  return {
    sourceBytes,
    sourceGets: after.source.gets - before.source.gets,
    sourceRequests: after.source.requests - before.source.requests,
    /** Share of the epoch's bytes not fetched from the store. */
    hitShare: 1 - sourceBytes / datasetBytes,
    memoryHitRatio: ratio('memory'),
    diskHitRatio: ratio('disk'),
    // Why a tier missed: fills it refused (admission, write-behind bound) and blocks it evicted.
    diskDroppedFills: diskCounter(after, 'droppedFills') - diskCounter(before, 'droppedFills'),
    diskEvictions: diskCounter(after, 'evictions') - diskCounter(before, 'evictions'),
    memoryEvictions: (after.tiers.find((t) => t.name === 'memory')?.evictions ?? 0) - (before.tiers.find((t) => t.name === 'memory')?.evictions ?? 0),
    prefetchWastedBlocks: after.prefetch.wastedBlocks - before.prefetch.wastedBlocks,
  }
}

async function sluiceEpoch(ctx: ScenarioContext, reader: BlockReader, label: string): Promise<{ timing: EpochTiming; extra: Record<string, number> }> {
  const before = reader.stats()
  const storeBefore = await ctx.storeCounts()
  const ds = ctx.dataset
  // CPU is the figure that moves least with machine noise: throughput on a shared two-core VM
  // swings by a third between runs, the CPU an epoch costs the reader's process much less.
  const cpuBefore = process.cpuUsage()
  const eluBefore = performance.eventLoopUtilization()
  // How long the event loop was held at a time: what a FUSE request or a timer waits behind.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 })
  loopDelay.enable()
  let bytes = 0
  async function* counted() {
    for await (const r of tfrecords(reader, shardGlob(ds))) {
      bytes += r.length
      yield r
    }
  }
  const timing = await ctx.progress.during(() => `  ${label}: ${Math.round((100 * bytes) / ds.bytes)}% of ${(ds.bytes / 1e6).toFixed(0)} MB`, timeEpoch(counted))
  if (timing.items !== ds.records) throw new Error(`${label}: read ${timing.items} records, expected ${ds.records}`)
  const storeAfter = await ctx.storeCounts()
  const cpu = process.cpuUsage(cpuBefore)
  const mainThreadBusy = performance.eventLoopUtilization(eluBefore).utilization
  loopDelay.disable()
  const requestsInFlight = (storeAfter.requestMs - storeBefore.requestMs) / (timing.seconds * 1000)
  return {
    timing,
    extra: {
      ...readerDelta(before, reader.stats(), ds.bytes),
      requestsInFlight,
      /** CPU seconds of the whole reader process (every thread) per GB of dataset. */
      cpuSecondsPerGB: (cpu.user + cpu.system) / 1e6 / (ds.bytes / 1e9),
      mainThreadBusy,
      /** 99th percentile and maximum of the event loop's delay over the epoch, ms. */
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
    },
  }
}

function base(ctx: ScenarioContext, id: string, label: string, scenario: string, repeat: number) {
  return { id, label, scenario, kind: 'scenario' as const, repeat, datasetBytes: ctx.dataset.bytes, records: ctx.dataset.records }
}

/** A memory tier that holds the whole dataset, and a disk tier that does too. */
function roomyCache(ctx: ScenarioContext): BlockReaderOptions {
  const room = Math.ceil((ctx.dataset.bytes * 1.5) / MiB) * MiB
  return { memory: { maxBytes: room }, disk: { maxBytes: room } }
}

/** Scenarios 1 and 2 share a cache directory: cold fills it, the warm epochs read it. */
export async function coldAndWarm(ctx: ScenarioContext, repeat: number, withWarm: boolean): Promise<Measurement[]> {
  const cacheDir = freshDir(ctx, 'cache-cold')
  const options = readerOptions(ctx, { ...roomyCache(ctx), cacheDir })
  const out: Measurement[] = []
  let reader = new BlockReader(options)
  try {
    const cold = await sluiceEpoch(ctx, reader, 'cold epoch')
    out.push(measurement(base(ctx, 'cold', 'sluice cold epoch', '1 cold', repeat), cold.timing, cold.extra))
    if (!withWarm) return out
    await reader.flush()
    const warm = await sluiceEpoch(ctx, reader, 'warm epoch (memory tier)')
    out.push(measurement(base(ctx, 'warm_memory', 'sluice warm, memory tier', '2 warm', repeat), warm.timing, warm.extra))
    await reader.close()
    reader = new BlockReader(options)
    const disk = await sluiceEpoch(ctx, reader, 'warm epoch (disk tier, restarted reader)')
    out.push(measurement(base(ctx, 'warm_disk', 'sluice warm, disk tier after restart', '2 warm', repeat), disk.timing, disk.extra))
  } finally {
    await reader.close()
  }
  return out
}

/** The disk tier is half the dataset; the memory tier is a small working buffer for read-ahead. */
export function loopCacheSizes(datasetBytes: number): { memoryBytes: number; diskBytes: number } {
  const memoryBytes = Math.max(16 * MiB, Math.min(128 * MiB, Math.floor(datasetBytes / 3 / MiB) * MiB))
  return { memoryBytes, diskBytes: Math.floor(datasetBytes / 2) }
}

export async function loop(ctx: ScenarioContext, repeat: number): Promise<Measurement[]> {
  const { memoryBytes, diskBytes } = loopCacheSizes(ctx.dataset.bytes)
  const reader = new BlockReader(readerOptions(ctx, { cacheDir: freshDir(ctx, 'cache-loop'), memory: { maxBytes: memoryBytes }, disk: { maxBytes: diskBytes } }))
  const out: Measurement[] = []
  try {
    for (let e = 1; e <= ctx.config.loopEpochs; e++) {
      const r = await sluiceEpoch(ctx, reader, `dataset twice the cache, epoch ${e}/${ctx.config.loopEpochs}`)
      out.push(measurement(base(ctx, `loop_epoch${e}`, `sluice, dataset 2x cache, epoch ${e}`, '3 loop', repeat), r.timing, { ...r.extra, cacheBytes: diskBytes, memoryBytes }))
      await reader.flush()
    }
  } finally {
    await reader.close()
  }
  return out
}

const MOUNT_CONSUMER = fileURLToPath(new URL('./mount-consumer.js', import.meta.url))

function consumeInChild(paths: string[]): Promise<EpochTiming> {
  return new Promise((resolve, reject) => {
    // Asynchronous spawn only: this process serves the mount the child reads.
    const child = spawn(process.execPath, [MOUNT_CONSUMER, ...paths], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`mount consumer exited with code ${code}`))
      resolve(JSON.parse(out.trim().split('\n').pop()!) as EpochTiming)
    })
  })
}

export async function fuse(ctx: ScenarioContext, repeat: number): Promise<Measurement[]> {
  const { mount } = await import('../../fuse/index.js')
  const ds = ctx.dataset
  // As `sluice mount` sets it up: disk fills on their own thread, off the daemon's event loop.
  const sizes = roomyCache(ctx)
  const reader = new BlockReader(readerOptions(ctx, { ...sizes, disk: { ...sizes.disk, writerThread: true }, cacheDir: freshDir(ctx, 'cache-fuse') }))
  const out: Measurement[] = []
  const prefix = `s3://${ds.bucket}/${ds.prefix}`
  try {
    for (const pass of ['cold', 'warm'] as const) {
      const mnt = freshDir(ctx, 'mnt')
      await mkdir(mnt)
      const m = await mount(reader, prefix, mnt, { metadataTtlMs: 3_600_000, log: (l) => ctx.progress.line(`  mount: ${l}`) })
      try {
        const before = reader.stats()
        const paths = ds.shards.map((s) => join(mnt, s.key.slice(ds.prefix.length)))
        const timing = await ctx.progress.during(() => `  FUSE ${pass} epoch (reader in a child process)`, consumeInChild(paths))
        if (timing.items !== ds.records) throw new Error(`fuse ${pass}: read ${timing.items} records, expected ${ds.records}`)
        const label = pass === 'cold' ? 'FUSE mount, cold' : 'FUSE mount, warm (new mount, memory tier)'
        out.push(measurement(base(ctx, `fuse_${pass}`, label, '4 fuse', repeat), timing, readerDelta(before, reader.stats(), ds.bytes)))
      } finally {
        await m.unmount()
      }
      await reader.flush()
    }
  } finally {
    await reader.close()
  }
  return out
}

export async function accelerator(ctx: ScenarioContext, repeat: number): Promise<Measurement[]> {
  const ds = ctx.dataset
  const reader = new BlockReader(readerOptions(ctx, { ...roomyCache(ctx), cacheDir: freshDir(ctx, 'cache-accel') }))
  try {
    const before = reader.stats()
    let batches = 0
    async function* counted() {
      for await (const b of tfrecords(reader, shardGlob(ds)).batch(ctx.config.batch)) {
        batches++
        yield b
      }
    }
    const total = Math.ceil(ds.records / ctx.config.batch)
    const t = await ctx.progress.during(
      () => `  accelerator (cold, step ${ctx.stepMs.toFixed(1)} ms per ${ctx.config.batch} records): batch ${batches}/${total}`,
      acceleratorEpoch(counted, ctx.stepMs),
    )
    return [
      measurement(base(ctx, 'accelerator', `accelerator step ${ctx.stepMs.toFixed(0)} ms/batch, cold`, '5 accelerator', repeat), t, {
        ...readerDelta(before, reader.stats(), ds.bytes),
        stepMs: ctx.stepMs,
        // Timers overshoot: the step actually slept, which sets the data rate really needed.
        stepMsMeasured: t.busyMs / Math.max(1, t.batches),
        batch: ctx.config.batch,
        batches: t.batches,
        utilisation: t.utilisation,
        utilisationAfterFirstBatch: t.utilisationAfterFirstBatch,
      }),
    ]
  } finally {
    await reader.close()
  }
}
