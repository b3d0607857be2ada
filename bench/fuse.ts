/**
 * FUSE benchmark (`npm run bench -- fuse`, or `node dist/bench/fuse.js`): the mount against
 * its two yardsticks, measured in one run on the same bytes (median of BENCH_REPEAT runs).
 *
 * 1. Warm sluice cache, kernel page cache dropped: a separate process (python, 4 MiB
 *    readinto) reads every file through the mount, after posix_fadvise(DONTNEED) on each, so
 *    every byte crosses FUSE into the daemon. Compared with the same BlockReader read
 *    in-process (readInto, 4 MiB), per tier: memory tier, and disk tier with memory off.
 *    Target: the mount reaches at least 50% of in-process.
 * 2. Page cache kept: the same process reads the mounted files again without dropping, and
 *    reads plain local copies of the same bytes (also from the page cache).
 *    Target: the mount reaches at least 80% of the local file.
 *
 * Both passes check from the mount's own counters that the page cache really was dropped
 * (every byte reached the daemon) or really was kept (none did). This process serves the
 * mount, so children are spawned asynchronously only.
 *
 * For the dropped passes it also prints where the CPU time of one FUSE read request goes
 * (each is at most 128 KiB with libfuse 2): this process's main thread (JavaScript, N-API,
 * libuv), its other threads (libfuse workers writing the reply into the kernel, V8 and libuv
 * helpers), and the reading process (system + user), from /proc/<tid>/schedstat and the
 * reader's rusage; and the request rate and throughput those costs would allow with every
 * CPU busy, which bounds what the mount can reach on this machine.
 *
 * Env: BENCH_OBJECTS (4), BENCH_OBJECT_MB (64), BENCH_REPEAT (3), BENCH_BLOCK_MB (4).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { mount } from '../fuse/index.js'
import { BlockReader, MiB, makeS3Client, type ObjectInfo } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { generatedBytes, putDataset } from '../examples/dataset.js'

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 4)
const OBJECT_BYTES = Number(process.env.BENCH_OBJECT_MB ?? 64) * MiB
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const BLOCK = Number(process.env.BENCH_BLOCK_MB ?? 4) * MiB
const READ = 4 * MiB
const TOTAL = OBJECTS * OBJECT_BYTES

const PY_READ = `
import os, resource, sys, time
drop = sys.argv[1] == 'drop'
paths = sys.argv[2:]
if drop:
    for p in paths:
        fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
buf = bytearray(${READ}); view = memoryview(buf); total = 0
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
for p in paths:
    with open(p, 'rb', buffering=0) as f:
        while True:
            n = f.readinto(view)
            if not n: break
            total += n
dt = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(total, dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
`

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** CPU seconds the reader spent in its read loop, summed over the python() calls. */
let readerCpuSeconds = 0

function python(mode: 'drop' | 'keep', paths: string[]): Promise<number> {
  return new Promise((done, fail) => {
    execFile('python3', ['-c', PY_READ, mode, ...paths], { timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`python reader failed: ${stderr || err.message}`))
      const [bytes, seconds, cpu] = stdout.trim().split(' ').map(Number) as [number, number, number]
      if (bytes !== TOTAL) return fail(new Error(`python read ${bytes} bytes, expected ${TOTAL}`))
      readerCpuSeconds += cpu
      done(bytes / MiB / seconds)
    })
  })
}

/** CPU time (ns) of this process's main thread and of all its other threads, from schedstat. */
async function threadCpuNs(): Promise<{ main: number; others: number }> {
  let main = 0
  let others = 0
  for (const tid of await readdir('/proc/self/task')) {
    const ns = Number((await readFile(`/proc/self/task/${tid}/schedstat`, 'utf8').catch(() => '0')).split(' ')[0])
    if (Number(tid) === process.pid) main += ns
    else others += ns
  }
  return { main, others }
}

/** Opens by listed ObjectInfo, as the mount does, so neither side pays a HEAD per open. */
async function inProcess(reader: BlockReader, infos: ObjectInfo[]): Promise<number> {
  const buf = Buffer.allocUnsafe(READ)
  let total = 0
  const t = performance.now()
  for (const info of infos) {
    const h = await reader.open(info)
    for (let pos = 0; pos < h.size; ) {
      const n = await h.readInto(buf, 0, pos, READ)
      pos += n
      total += n
    }
    await h.close()
  }
  if (total !== TOTAL) throw new Error(`read ${total} bytes, expected ${TOTAL}`)
  return total / MiB / ((performance.now() - t) / 1000)
}

async function repeat(fn: () => Promise<number>): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < REPEAT; i++) xs.push(await fn())
  return median(xs)
}

const round = (x: number) => Math.round(x * 10) / 10

interface PerRequest {
  requests: number
  kib: number
  mainThreadUs: number
  otherThreadsUs: number
  readerUs: number
  cpuBoundRequestsPerS: number
  cpuBoundMiBps: number
  mainThreadBoundMiBps: number
}

/** CPU per FUSE read request and the throughput those costs allow with every CPU busy. */
function breakdown(requests: number, bytes: number, mainNs: number, othersNs: number, readerS: number): PerRequest {
  const n = Math.max(1, requests)
  const mainUs = mainNs / 1000 / n
  const othersUs = othersNs / 1000 / n
  const readerUs = (readerS * 1e6) / n
  const perRequestBytes = bytes / n
  const rate = (cpus().length * 1e6) / (mainUs + othersUs + readerUs)
  return {
    requests,
    kib: round(perRequestBytes / 1024),
    mainThreadUs: round(mainUs),
    otherThreadsUs: round(othersUs),
    readerUs: round(readerUs),
    cpuBoundRequestsPerS: Math.round(rate),
    cpuBoundMiBps: Math.round((rate * perRequestBytes) / MiB),
    mainThreadBoundMiBps: Math.round(((1e6 / mainUs) * perRequestBytes) / MiB),
  }
}
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-fuse-'))
const server = await startS3Server({ buckets: ['sluice'] })
const cleanups: (() => Promise<unknown>)[] = []
try {
  console.log(`bench fuse: ${OBJECTS} objects x ${OBJECT_BYTES / MiB} MiB = ${TOTAL / MiB} MiB, block ${BLOCK / MiB} MiB, ` +
    `median of ${REPEAT}; reader: python3 readinto ${READ / MiB} MiB; ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`)
  const client = makeS3Client(server.s3)
  const urls = await putDataset(client, 'sluice', 'bench/', OBJECTS, OBJECT_BYTES)
  client.destroy()
  const localDir = join(work, 'local')
  await mkdir(localDir)
  const localPaths: string[] = []
  for (const url of urls) {
    const key = url.slice('s3://sluice/'.length)
    const p = join(localDir, key.split('/').pop()!)
    await writeFile(p, generatedBytes(OBJECT_BYTES, key))
    localPaths.push(p)
  }

  const tiers: Record<string, { inProcessMiBps: number; mountMiBps: number; ratio: number; perRequest: PerRequest }> = {}
  let pageCache = { mountMiBps: 0, localFileMiBps: 0, ratio: 0 }
  for (const tier of ['memory', 'disk'] as const) {
    const reader = new BlockReader({
      cacheDir: join(work, `cache-${tier}`),
      memory: { maxBytes: tier === 'memory' ? 2 * TOTAL : 0 },
      disk: { maxBytes: 3 * TOTAL + 64 * MiB },
      blockSize: BLOCK,
      s3: server.s3,
    })
    const mnt = join(work, `mnt-${tier}`)
    await mkdir(mnt)
    const m = await mount(reader, 's3://sluice/bench/', mnt, { metadataTtlMs: 3_600_000, log: (l) => console.error(`mount: ${l}`) })
    cleanups.push(async () => {
      await m.unmount().catch(() => {})
      await reader.close().catch(() => {})
    })
    const mounted = urls.map((u) => join(mnt, u.slice('s3://sluice/bench/'.length)))
    const pre = await reader.preload(urls)
    if (!pre.complete) throw new Error(`preload into the ${tier} bench cache incomplete`)
    const infos = await reader.list('s3://sluice/bench/')
    await inProcess(reader, infos) // warm (and for the memory tier: fill it)
    const requestsBefore = reader.stats().source.requests
    const inProcessMiBps = await repeat(() => inProcess(reader, infos))

    const before = m.stats().bytesRead
    const readsBefore = m.stats().operations.read ?? 0
    const cpuBefore = await threadCpuNs()
    readerCpuSeconds = 0
    const mountMiBps = await repeat(() => python('drop', mounted))
    const cpuAfter = await threadCpuNs()
    const requests = (m.stats().operations.read ?? 0) - readsBefore
    const crossed = m.stats().bytesRead - before
    if (crossed < REPEAT * TOTAL) throw new Error(`page cache was not dropped: only ${crossed} of ${REPEAT * TOTAL} bytes reached the daemon`)
    if (reader.stats().source.requests !== requestsBefore) throw new Error('the warm passes made source requests')
    const perRequest = breakdown(requests, crossed, cpuAfter.main - cpuBefore.main, cpuAfter.others - cpuBefore.others, readerCpuSeconds)
    tiers[tier] = { inProcessMiBps: round(inProcessMiBps), mountMiBps: round(mountMiBps), ratio: round((mountMiBps / inProcessMiBps) * 100) / 100, perRequest }
    console.log(`${tier} tier, page cache dropped: mount ${round(mountMiBps)} MiB/s vs in-process BlockReader ${round(inProcessMiBps)} MiB/s (${Math.round((100 * mountMiBps) / inProcessMiBps)}%)`)
    console.log(`  per request (${perRequest.requests} requests of ${perRequest.kib} KiB on average): daemon main thread ${perRequest.mainThreadUs} us, ` +
      `daemon other threads ${perRequest.otherThreadsUs} us, reader ${perRequest.readerUs} us of CPU; ` +
      `with all ${cpus().length} CPUs busy at most ${perRequest.cpuBoundRequestsPerS} requests/s = ${perRequest.cpuBoundMiBps} MiB/s ` +
      `(${Math.round((100 * perRequest.cpuBoundMiBps) / inProcessMiBps)}% of in-process); main thread alone at most ${perRequest.mainThreadBoundMiBps} MiB/s`)

    if (tier === 'memory') {
      await python('keep', mounted) // pages in
      const keptBefore = m.stats().bytesRead
      const keptMiBps = await repeat(() => python('keep', mounted))
      if (m.stats().bytesRead !== keptBefore) throw new Error(`page cache not kept: ${m.stats().bytesRead - keptBefore} bytes reached the daemon`)
      await python('keep', localPaths)
      const localMiBps = await repeat(() => python('keep', localPaths))
      pageCache = { mountMiBps: round(keptMiBps), localFileMiBps: round(localMiBps), ratio: round((keptMiBps / localMiBps) * 100) / 100 }
      console.log(`page cache kept: mount ${round(keptMiBps)} MiB/s vs local file ${round(localMiBps)} MiB/s (${Math.round((100 * keptMiBps) / localMiBps)}%)`)
    }
    await cleanups.pop()!()
  }
  const targets = { mountVsInProcess: 0.5, pageCacheVsLocal: 0.8 }
  const pass = {
    mountVsInProcess: Object.values(tiers).every((t) => t.ratio >= targets.mountVsInProcess),
    pageCacheVsLocal: pageCache.ratio >= targets.pageCacheVsLocal,
  }
  console.log(JSON.stringify({ bench: 'fuse', objects: OBJECTS, objectBytes: OBJECT_BYTES, blockSize: BLOCK, repeat: REPEAT, cpus: cpus().length, tiers, pageCache, targets, pass }))
} finally {
  for (const c of cleanups.reverse()) await c()
  await server.close()
  await rm(work, { recursive: true, force: true })
}
