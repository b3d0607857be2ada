/**
 * Soak (`node dist/bench/soak.js`): the "Load" check of issue 6. It owns one question: does a
 * BlockReader under sustained concurrent load stay correct, keep its memory inside its
 * configured budgets and leak no file descriptors? It is a bounded run (SOAK_SECONDS, default
 * 120) in the benchmark tools rather than in `npm test`, because a meaningful soak takes minutes.
 *
 * Setup: s3rver on loopback (in its own process, so its memory is not ours), a generated
 * dataset larger than the memory tier (16 x 32 MiB = 512 MiB against a 128 MiB tier), a fresh
 * cache directory with a 2 GiB disk tier, default prefetch and write-behind budgets. Then 64
 * workers, each holding one handle at a time: half read whole objects sequentially with
 * `readInto` in 1 MiB pieces, half make random `read(position, 64 KiB..1 MiB)` calls. Every
 * read is compared against a copy of the object's bytes kept in memory (the dataset is
 * deterministic), so a wrong byte is counted, never just timed.
 *
 * Every second it samples RSS (with /proc/self/status's anonymous/file/shmem split), the
 * resident pages of the disk tier's LMDB data file (from /proc/self/smaps), open fds
 * (/proc/self/fd) and reader.stats(). The LMDB figure matters: LMDB maps the data file shared
 * and read-only, so every disk-tier block this process reads counts in RSS, and lmdb-js, when
 * the file grows, maps it again without unmapping the smaller, older mappings (seen with lmdb
 * 3.x: three live mappings of one 513 MiB file, 1.1 GiB of RSS). Those pages are clean page
 * cache, shared between the mappings and reclaimable at any time, not memory the reader
 * allocated; RSS counts them once per mapping. So the bound is checked on RSS minus the
 * resident pages of data.mdb's mappings ("private RSS"), and total RSS is reported beside it.
 *
 * Bounds checked (exit 1 if any fails):
 * - mismatches == 0;
 * - peak private RSS <= memory.maxBytes + prefetch.maxInflightBytes + disk.maxPendingWriteBytes + C,
 *   where the constant C = baseline + MARGIN. The baseline is RSS measured after the
 *   verification copies are loaded and a forced GC, before the reader exists: the runtime, the
 *   AWS SDK and the 512 MiB of copies. MARGIN (SOAK_MARGIN_MB, default 256 MiB) covers what the
 *   three budgets do not: demand fetches in transit (maxConcurrentRequests 8 x coalesceBytes
 *   16 MiB = 128 MiB at most), the workers' own buffers and results (64 x 1 MiB), and
 *   garbage-collector slack for ArrayBuffers already released but not yet collected;
 * - open fds: never more than at the start of the load + s3.maxSockets (64 keep-alive sockets,
 *   which 64 concurrent opens can fill with HEADs) + FD_SLACK; no growth (the maximum over the
 *   second half of the run at most FD_SLACK above the first half's); and after reader.close()
 *   at most FD_SLACK more than before the reader existed.
 *
 * Env: SOAK_SECONDS (120), SOAK_OBJECTS (16), SOAK_OBJECT_MB (32), SOAK_WORKERS (64),
 * SOAK_SEED (1), SOAK_MARGIN_MB (256).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { BlockReader, GiB, KiB, MiB, makeS3Client, parseS3Url, type ObjectHandle, type ReaderStats } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { generatedBytes, putDataset } from '../examples/dataset.js'
import { seededRandom as rng } from '../lib/testing/seeded-random.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 120)
const OBJECTS = Number(process.env.SOAK_OBJECTS ?? 16)
const OBJECT_BYTES = Number(process.env.SOAK_OBJECT_MB ?? 32) * MiB
const WORKERS = Number(process.env.SOAK_WORKERS ?? 64)
const SEED = Number(process.env.SOAK_SEED ?? 1)
const MARGIN = Number(process.env.SOAK_MARGIN_MB ?? 256) * MiB
const MEMORY_BYTES = 128 * MiB
const DISK_BYTES = 2 * GiB
// The defaults of prefetch.maxInflightBytes and disk.maxPendingWriteBytes (README,
// Configuration); the reader is built with defaults, and stats() confirms the first.
const INFLIGHT_BYTES = 256 * MiB
const PENDING_WRITE_BYTES = 256 * MiB
const SEQ_READ = 1 * MiB
const RANDOM_MIN = 64 * KiB
const RANDOM_MAX = 1 * MiB
const RANDOM_READS_PER_HANDLE = 32
const FD_SLACK = 4
/** s3.maxSockets default (README, Configuration): keep-alive sockets the reader may open. */
const MAX_SOCKETS = 64
const WARMUP_MS = Math.min(10_000, (SECONDS * 1000) / 10)


function forceGc(): void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/** RSS split from /proc/self/status, in bytes. */
function rssParts(): { anon: number; file: number; shmem: number } {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0) * 1024
  return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') }
}

/** Resident bytes of file mappings whose path ends with `suffix` (the LMDB data file). */
function mappedRss(suffix: string): number {
  let total = 0
  let inside = false
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inside = line.trimEnd().endsWith(suffix)
    else if (inside && line.startsWith('Rss:')) total += Number(/(\d+) kB/.exec(line)?.[1] ?? 0) * 1024
  }
  return total
}

/** What the open fds are: sockets, pipes, anon inodes, files (by path). */
function fdKinds(): Record<string, number> {
  const kinds: Record<string, number> = {}
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue
    }
    const kind = /^(socket|pipe|anon_inode):/.exec(target)?.[1] ?? (target.includes('sluice-bench-soak-') ? target.replace(/.*sluice-bench-soak-[^/]*\//, '') : 'other file')
    kinds[kind] = (kinds[kind] ?? 0) + 1
  }
  return kinds
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const mib = (n: number) => n / MiB

interface Sample {
  t: number
  rss: number
  anon: number
  file: number
  shmem: number
  lmdbMapped: number
  fds: number
  memoryTierBytes: number
  inflightBytes: number
}

const work = await mkdtemp(join(tmpdir(), 'sluice-bench-soak-'))
const server = await startS3Server({ buckets: ['bench'], directory: join(work, 's3') })
let exitCode = 0
try {
  const client = makeS3Client(server.s3)
  const urls = await putDataset(client, 'bench', 'soak/', OBJECTS, OBJECT_BYTES)
  client.destroy()
  const copies = urls.map((url) => generatedBytes(OBJECT_BYTES, parseS3Url(url).key))

  forceGc()
  await new Promise((r) => setTimeout(r, 200))
  const baselineRss = process.memoryUsage().rss
  const constant = baselineRss + MARGIN
  const rssBound = MEMORY_BYTES + INFLIGHT_BYTES + PENDING_WRITE_BYTES + constant
  const fdsBefore = openFds()

  const reader = new BlockReader({
    s3: server.s3,
    cacheDir: join(work, 'cache'),
    memory: { maxBytes: MEMORY_BYTES },
    disk: { maxBytes: DISK_BYTES },
  })
  const config = {
    seconds: SECONDS,
    objects: OBJECTS,
    objectBytes: OBJECT_BYTES,
    datasetBytes: OBJECTS * OBJECT_BYTES,
    workers: WORKERS,
    sequentialWorkers: Math.ceil(WORKERS / 2),
    randomWorkers: Math.floor(WORKERS / 2),
    seqReadBytes: SEQ_READ,
    randomReadBytes: [RANDOM_MIN, RANDOM_MAX],
    memoryMaxBytes: MEMORY_BYTES,
    diskMaxBytes: DISK_BYTES,
    maxInflightBytes: INFLIGHT_BYTES,
    maxPendingWriteBytes: PENDING_WRITE_BYTES,
    marginBytes: MARGIN,
    seed: SEED,
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / GiB),
    node: process.version,
  }
  console.log('config', JSON.stringify(config))
  const reportedInflight = reader.stats().prefetch.maxInflightBytes
  if (reportedInflight !== INFLIGHT_BYTES) {
    console.log(`note: reader reports prefetch.maxInflightBytes ${mib(reportedInflight)} MiB, bound uses ${mib(INFLIGHT_BYTES)} MiB`)
  }

  const latencies: number[] = []
  let slowest = { ms: 0, kind: '', t: 0, object: 0, position: 0, length: 0 }
  /** Worst latency per whole second of the run, to tell the cold fill from the steady state. */
  const worstPerSecond: number[] = []
  const timedRead = async (kind: string, object: number, position: number, length: number, fn: () => Promise<number>) => {
    const t = performance.now()
    const n = await fn()
    const ms = performance.now() - t
    latencies.push(ms)
    const second = Math.floor((t - start) / 1000)
    worstPerSecond[second] = Math.max(worstPerSecond[second] ?? 0, ms)
    if (ms > slowest.ms) slowest = { ms, kind, t: (t - start) / 1000, object, position, length }
    return n
  }
  let bytesRead = 0
  let reads = 0
  let seqReads = 0
  let randomReads = 0
  let mismatches = 0
  let shortReads = 0
  const errors: string[] = []
  let errorCount = 0
  const noteError = (e: unknown) => {
    errorCount++
    if (errors.length < 10) errors.push(e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e))
  }

  const start = performance.now()
  const deadline = start + SECONDS * 1000
  const running = () => performance.now() < deadline

  async function sequentialWorker(id: number): Promise<void> {
    const buf = new Uint8Array(SEQ_READ)
    let obj = id % OBJECTS
    while (running()) {
      let h: ObjectHandle | undefined
      try {
        h = await reader.open(urls[obj]!)
        const copy = copies[obj]!
        for (let pos = 0; pos < h.size && running(); ) {
          const want = Math.min(SEQ_READ, h.size - pos)
          const n = await timedRead('sequential', obj, pos, want, () => h!.readInto(buf, 0, pos, want))
          reads++
          seqReads++
          bytesRead += n
          if (n !== want) shortReads++
          if (Buffer.compare(buf.subarray(0, n), copy.subarray(pos, pos + n)) !== 0) mismatches++
          if (n === 0) break
          pos += n
        }
      } catch (e) {
        noteError(e)
      } finally {
        await h?.close().catch(noteError)
      }
      obj = (obj + 1) % OBJECTS
    }
  }

  async function randomWorker(id: number): Promise<void> {
    const next = rng(SEED * 1000 + id)
    while (running()) {
      const obj = Math.floor(next() * OBJECTS)
      let h: ObjectHandle | undefined
      try {
        h = await reader.open(urls[obj]!)
        const copy = copies[obj]!
        for (let i = 0; i < RANDOM_READS_PER_HANDLE && running(); i++) {
          const length = RANDOM_MIN + Math.floor(next() * (RANDOM_MAX - RANDOM_MIN + 1))
          const position = Math.floor(next() * (h.size - length + 1))
          let got: Uint8Array = new Uint8Array(0)
          await timedRead('random', obj, position, length, async () => (got = await h!.read(position, length)).length)
          reads++
          randomReads++
          bytesRead += got.length
          if (got.length !== length) shortReads++
          if (Buffer.compare(got, copy.subarray(position, position + got.length)) !== 0) mismatches++
        }
      } catch (e) {
        noteError(e)
      } finally {
        await h?.close().catch(noteError)
      }
    }
  }

  const samples: Sample[] = []
  let fdsWarm: number | undefined
  const sample = () => {
    const s: ReaderStats = reader.stats()
    const parts = rssParts()
    const memTier = s.tiers.find((t) => t.name === 'memory') ?? s.tiers[0]
    const x: Sample = {
      t: (performance.now() - start) / 1000,
      rss: process.memoryUsage().rss,
      ...parts,
      lmdbMapped: mappedRss('/cache/data.mdb'),
      fds: openFds(),
      memoryTierBytes: memTier?.usedBytes ?? 0,
      inflightBytes: s.prefetch.inflightBytes,
    }
    samples.push(x)
    if (fdsWarm === undefined && x.t * 1000 >= WARMUP_MS) fdsWarm = x.fds
    return x
  }
  sample()
  const fdsStart = samples[0]!.fds
  const timer = setInterval(sample, 1000)

  const workers: Promise<void>[] = []
  for (let i = 0; i < WORKERS; i++) workers.push(i % 2 === 0 ? sequentialWorker(i) : randomWorker(i))
  await Promise.all(workers)
  const elapsed = (performance.now() - start) / 1000
  clearInterval(timer)
  const endSample = sample()
  const fdsEnd = endSample.fds
  const fdKindsEnd = fdKinds()
  const stats = reader.stats()
  await reader.close()
  const fdsAfterClose = openFds()

  const sorted = Float64Array.from(latencies).sort()
  // Private RSS: everything but the resident pages of the LMDB data file's shared mapping,
  // which are page cache (clean, reclaimable by the kernel at any time, at most the file's
  // size) rather than memory the process allocated. Total RSS is reported beside it.
  const privateRss = (x: Sample) => x.rss - x.lmdbMapped
  const peak = samples.reduce((a, b) => (privateRss(b) > privateRss(a) ? b : a))
  const peakTotal = samples.reduce((a, b) => (b.rss > a.rss ? b : a))
  const fdsMax = Math.max(...samples.map((s) => s.fds))
  const fdsWarmValue = fdsWarm ?? fdsStart
  const late = samples.filter((x) => x.t >= elapsed / 2)
  const early = samples.filter((x) => x.t < elapsed / 2)
  const fdsEarlyMax = Math.max(...early.map((x) => x.fds))
  const fdsLateMax = Math.max(...late.map((x) => x.fds))
  const fdBound = fdsStart + MAX_SOCKETS + FD_SLACK
  const peakMemoryTier = Math.max(...samples.map((s) => s.memoryTierBytes))
  const peakInflight = Math.max(...samples.map((s) => s.inflightBytes))

  const checks = {
    mismatches: mismatches === 0,
    peakRss: privateRss(peak) <= rssBound,
    fdsBounded: fdsMax <= fdBound,
    fdsNoGrowth: fdsLateMax <= fdsEarlyMax + FD_SLACK,
    fdsAfterClose: fdsAfterClose <= fdsBefore + FD_SLACK,
  }
  const result = {
    bench: 'soak',
    config,
    seconds: elapsed,
    mibPerSecond: mib(bytesRead) / elapsed,
    readsPerSecond: reads / elapsed,
    reads,
    sequentialReads: seqReads,
    randomReads,
    bytesRead,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] ?? NaN },
    slowestRead: slowest,
    maxLatencyAfterWarmupMs: Math.max(0, ...worstPerSecond.slice(Math.ceil(WARMUP_MS / 1000)).map((x) => x ?? 0)),
    worstLatencyPerSecondMs: Array.from(worstPerSecond, (x) => Math.round(x ?? 0)),
    rss: {
      baseline: baselineRss,
      constant,
      bound: rssBound,
      peakPrivate: privateRss(peak),
      peakPrivateAt: peak.t,
      peakTotal: peakTotal.rss,
      peakTotalLmdbMapped: peakTotal.lmdbMapped,
      maxAnon: Math.max(...samples.map((s) => s.anon)),
      maxFile: Math.max(...samples.map((s) => s.file)),
      maxLmdbMapped: Math.max(...samples.map((s) => s.lmdbMapped)),
    },
    peakMemoryTierBytes: peakMemoryTier,
    peakPrefetchInflightBytes: peakInflight,
    fds: {
      beforeReader: fdsBefore, start: fdsStart, afterWarmup: fdsWarmValue, end: fdsEnd, max: fdsMax,
      firstHalfMax: fdsEarlyMax, secondHalfMax: fdsLateMax, bound: fdBound, afterClose: fdsAfterClose, slack: FD_SLACK, kindsAtEnd: fdKindsEnd,
    },
    errors: errorCount,
    firstErrors: errors,
    mismatches,
    shortReads,
    stats,
    timeline: samples.filter((_, k) => k % 10 === 0).map((x) => ({ t: Math.round(x.t), rss: x.rss, lmdbMapped: x.lmdbMapped, anon: x.anon, fds: x.fds })),
    checks,
    ok: Object.values(checks).every(Boolean),
  }

  const row = (k: string, v: string, verdict = '') => console.log(`${k.padEnd(30)} ${v.padStart(30)}  ${verdict}`)
  const ok = (b: boolean) => (b ? 'ok' : 'FAIL')
  const m = (n: number) => mib(n).toFixed(0)
  console.log('timeline (s: rss / lmdb-mapped / anon MiB, fds):', result.timeline.map((x) => `${x.t}: ${m(x.rss)}/${m(x.lmdbMapped)}/${m(x.anon)}, ${x.fds}`).join('; '))
  row('elapsed s', elapsed.toFixed(1))
  row('throughput MiB/s', result.mibPerSecond.toFixed(0))
  row('reads/s', result.readsPerSecond.toFixed(0), `(${reads} reads: ${seqReads} sequential, ${randomReads} random)`)
  row('latency p50/p99/p99.9 ms', `${result.latencyMs.p50.toFixed(2)} / ${result.latencyMs.p99.toFixed(2)} / ${result.latencyMs.p999.toFixed(1)}`)
  row('latency max ms', result.latencyMs.max.toFixed(1), `(${slowest.kind} read of object ${slowest.object} at ${slowest.position}+${slowest.length}, started at ${slowest.t.toFixed(1)} s)`)
  row('latency max after warm-up ms', result.maxLatencyAfterWarmupMs.toFixed(1), `(reads started after ${(WARMUP_MS / 1000).toFixed(0)} s)`)
  row('peak RSS w/o LMDB map MiB', `${m(privateRss(peak))} <= ${m(rssBound)}`, `${ok(checks.peakRss)} (at ${peak.t.toFixed(0)} s)`)
  row('  bound = mem + inflight + wb', `${m(MEMORY_BYTES)} + ${m(INFLIGHT_BYTES)} + ${m(PENDING_WRITE_BYTES)} + C`)
  row('  C = baseline + margin', `${m(baselineRss)} + ${m(MARGIN)}`)
  row('peak total RSS MiB', `${m(peakTotal.rss)}`, `(of which LMDB data file mapped ${m(peakTotal.lmdbMapped)}; max anon ${m(result.rss.maxAnon)})`)
  row('peak memory tier MiB', `${m(peakMemoryTier)} of ${m(MEMORY_BYTES)}`)
  row('peak prefetch inflight MiB', `${m(peakInflight)} of ${m(INFLIGHT_BYTES)}`)
  row('fds start/warm/end/max', `${fdsStart} / ${fdsWarmValue} / ${fdsEnd} / ${fdsMax}`, `${ok(checks.fdsBounded)} (max <= start + s3.maxSockets ${MAX_SOCKETS} + ${FD_SLACK})`)
  row('fds max 1st / 2nd half', `${fdsEarlyMax} / ${fdsLateMax}`, `${ok(checks.fdsNoGrowth)} (no growth)`)
  row('fds before/after reader', `${fdsBefore} / ${fdsAfterClose}`, ok(checks.fdsAfterClose))
  row('fds at end by kind', JSON.stringify(fdKindsEnd))
  row('errors', String(errorCount), errors.length ? errors.join(' | ') : '')
  row('mismatches', String(mismatches), ok(checks.mismatches))
  row('short reads', String(shortReads))
  const [t0, t1] = [stats.tiers[0], stats.tiers[1]]
  row('source GETs / GiB / HEADs', `${stats.source.gets} / ${(stats.source.bytes / GiB).toFixed(2)} / ${stats.source.stats}`, `retries ${stats.source.retries}, errors ${stats.source.errors}`)
  if (t0) row(`${t0.name} hits/misses`, `${t0.hits} / ${t0.misses}`, `evictions ${t0.evictions}`)
  if (t1) row(`${t1.name} hits/misses`, `${t1.hits} / ${t1.misses}`, `dropped fills ${t1.droppedFills}, errors ${t1.errors}`)
  row('prefetch issued/used/wasted', `${stats.prefetch.issuedBlocks} / ${stats.prefetch.usedBlocks} / ${stats.prefetch.wastedBlocks}`)
  console.log(JSON.stringify(result))
  if (!result.ok) {
    console.log(`soak FAILED: ${Object.entries(checks).filter(([, v]) => !v).map(([k]) => k).join(', ')}`)
    exitCode = 1
  }
} finally {
  await server.close()
  await rm(work, { recursive: true, force: true })
}
process.exitCode = exitCode
