/**
 * FUSE benchmark (`npm run bench -- fuse`, or `node dist/bench/fuse.js`): the mount on each
 * binding (libfuse 3 addon, fuse-native) against its yardsticks, every ratio from figures of
 * the same run, measured alternately (mount pass, yardstick pass, ...) so that load from
 * elsewhere on the machine hits both sides alike; each figure is the median of BENCH_REPEAT.
 *
 * 1. Warm mount, page cache dropped: a separate python3 process (4 MiB readinto) reads every
 *    file through the mount after posix_fadvise(DONTNEED), so every byte crosses FUSE. Against
 *    the same BlockReader read in-process (readInto, 4 MiB), per tier (memory; disk with
 *    memory off). Target >= 0.5x (stretch 0.8x).
 * 2. Page cache kept: the same files read again without dropping, against plain local copies.
 *    Target >= 0.9x.
 * 3. Cold mount under the remote-store model (the harness's proxy: latency, per-connection and
 *    link caps): a fresh reader and mount read once by python, against a fresh in-process
 *    reader streaming each object with `chunks()`, as the harness's cold epoch reads. Target
 *    >= 0.9x. Also against an in-process `readInto` loop, the mount's own access pattern.
 * 4. Eight reading processes on eight files, page cache dropped: their aggregate rate against
 *    one process reading the same eight files. Target >= 1.5x.
 *
 * The dropped and kept passes check from the mount's counters that every byte reached the
 * daemon, or none did. For the dropped passes it prints the CPU per read request: this
 * process's main thread, its other threads (libfuse threads, the addon's reply threads) and the
 * reader, from /proc/<tid>/schedstat and the reader's rusage. This process serves the mount,
 * so children are spawned asynchronously only, and the readers are spawned once, up front.
 *
 * Env: BENCH_OBJECTS (8), BENCH_OBJECT_MB (64), BENCH_REPEAT (5), BENCH_BLOCK_MB (4),
 * BENCH_FUSE_BACKENDS (libfuse3,fuse-native), BENCH_COLD (1; 0 skips the cold passes).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fuseAvailability, mount, type FuseBackendName, type SluiceMount } from '../fuse/index.js'
import { BlockReader, MiB, makeS3Client, type BlockReaderOptions, type ObjectInfo } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { generatedBytes, putDataset } from '../examples/dataset.js'
import { DEFAULT_MODEL, describeModel } from './support/link-model.js'
import { startRemoteStore } from './support/remote-store-process.js'

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 8)
const OBJECT_BYTES = Number(process.env.BENCH_OBJECT_MB ?? 64) * MiB
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5)
const BLOCK = Number(process.env.BENCH_BLOCK_MB ?? 4) * MiB
const BACKENDS = (process.env.BENCH_FUSE_BACKENDS ?? 'libfuse3,fuse-native').split(',') as FuseBackendName[]
const COLD = process.env.BENCH_COLD !== '0'
const READ = 4 * MiB
const TOTAL = OBJECTS * OBJECT_BYTES
const PREFIX = 's3://sluice/bench/'
const TARGETS = { warmVsInProcess: 0.5, pageCacheVsLocal: 0.9, coldVsInProcess: 0.9, eightVsOne: 1.5 }

/**
 * A python3 reader process, started once before any cache is filled and kept for the whole
 * run: spawning from this process once it holds the caches takes tens of ms (fork copies its
 * page tables, then every page it writes faults), as long as a pass. Each command is a mode
 * and paths (NUL-separated); it drops the paths' pages if asked, says `ready`, waits for a
 * line, reads the paths in order (4 MiB readinto) and prints bytes, start and end (epoch
 * seconds) and CPU seconds. Readers run together are released together.
 */
const PY_READER = `
import os, resource, sys, time
buf = bytearray(${READ}); view = memoryview(buf)
for line in sys.stdin:
    mode, *paths = line.rstrip('\\n').split('\\0')
    if mode == 'drop':
        for p in paths:
            fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
    print('ready', flush=True)
    sys.stdin.readline()
    total = 0
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    for p in paths:
        with open(p, 'rb', buffering=0) as f:
            while True:
                n = f.readinto(view)
                if not n: break
                total += n
    t1 = time.time()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print(total, t0, t1, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), flush=True)
`

interface PyRun { bytes: number; start: number; end: number; cpu: number }

class PyReader {
  private readonly child = spawn('python3', ['-c', PY_READER], { stdio: ['pipe', 'pipe', 'inherit'] })
  private readonly lines: string[] = []
  private waiting: ((line: string) => void) | undefined
  constructor() {
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const w = this.waiting
      this.waiting = undefined
      if (w) w(line)
      else this.lines.push(line)
    })
    this.child.on('exit', (code) => this.waiting?.(`exited ${code}`))
  }
  private next(): Promise<string> {
    const line = this.lines.shift()
    return line !== undefined ? Promise.resolve(line) : new Promise((r) => (this.waiting = r))
  }
  async prepare(mode: 'drop' | 'keep', paths: string[]): Promise<void> {
    this.child.stdin.write([mode, ...paths].join('\0') + '\n')
    const line = await this.next()
    if (line !== 'ready') throw new Error(`python reader: ${line}`)
  }
  async run(): Promise<PyRun> {
    this.child.stdin.write('go\n')
    const [bytes, start, end, cpu] = (await this.next()).split(' ').map(Number) as [number, number, number, number]
    return { bytes, start, end, cpu }
  }
  close(): void {
    this.child.stdin.end()
  }
}

const readers: PyReader[] = []

/** MiB/s of readers run at once (one per group): all their bytes over the first start to the last end. */
async function pythons(mode: 'drop' | 'keep', groups: string[][]): Promise<{ mibps: number; cpu: number }> {
  const used = readers.slice(0, groups.length)
  await Promise.all(used.map((r, i) => r.prepare(mode, groups[i]!)))
  const runs = await Promise.all(used.map((r) => r.run()))
  const bytes = runs.reduce((n, r) => n + r.bytes, 0)
  if (bytes !== TOTAL) throw new Error(`python read ${bytes} bytes, expected ${TOTAL}`)
  const span = Math.max(...runs.map((r) => r.end)) - Math.min(...runs.map((r) => r.start))
  return { mibps: bytes / MiB / span, cpu: runs.reduce((n, r) => n + r.cpu, 0) }
}

/**
 * Reads every object in order (opened by listed ObjectInfo, as the mount does), with 4 MiB
 * `readInto` calls or streamed with `chunks()`; MiB/s.
 */
async function inProcess(reader: BlockReader, infos: ObjectInfo[], how: 'readInto' | 'chunks' = 'readInto'): Promise<number> {
  const buf = Buffer.allocUnsafe(READ)
  let total = 0
  const t = performance.now()
  for (const info of infos) {
    const h = await reader.open(info)
    if (how === 'chunks') {
      for await (const chunk of h.chunks()) total += chunk.length
    } else {
      for (let pos = 0; pos < h.size; ) {
        const n = await h.readInto(buf, 0, pos, READ)
        pos += n
        total += n
      }
    }
    await h.close()
  }
  if (total !== TOTAL) throw new Error(`read ${total} bytes, expected ${TOTAL}`)
  return total / MiB / ((performance.now() - t) / 1000)
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number) => Math.round(x * 100) / 100

/** Runs `a` and `b` alternately REPEAT times; their medians. */
async function alternate(a: () => Promise<number>, b: () => Promise<number>, repeat = REPEAT): Promise<[number, number]> {
  const as: number[] = []
  const bs: number[] = []
  for (let i = 0; i < repeat; i++) {
    as.push(await a())
    bs.push(await b())
  }
  return [median(as), median(bs)]
}

interface Ratio { mount: number; yardstick: number; ratio: number }
const ratio = (mount: number, yardstick: number): Ratio => ({ mount: round(mount), yardstick: round(yardstick), ratio: round(mount / yardstick) })

for (let i = 0; i < OBJECTS; i++) readers.push(new PyReader())
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-fuse-'))
const server = await startS3Server({ buckets: ['sluice'] })
const cleanups: (() => Promise<unknown>)[] = []
const results: Record<string, Record<string, unknown>> = {}

/** A reader over `s3` with a mount of the bench prefix on `backend`, unmounted by the cleanups. */
async function mounted(name: string, backend: FuseBackendName, options: BlockReaderOptions): Promise<{ reader: BlockReader; m: SluiceMount; paths: string[] }> {
  const reader = new BlockReader({ blockSize: BLOCK, ...options })
  const mnt = join(work, `mnt-${name}-${backend}`)
  await mkdir(mnt)
  const m = await mount(reader, PREFIX, mnt, { metadataTtlMs: 3_600_000, backend, log: (l) => console.error(`  mount: ${l}`) })
  cleanups.push(async () => {
    await m.unmount().catch(() => {})
    await reader.close().catch(() => {})
  })
  const infos = await reader.list(PREFIX)
  return { reader, m, paths: infos.map((i) => join(mnt, i.url.slice(PREFIX.length))) }
}

async function closeLast(): Promise<void> {
  await cleanups.pop()!()
}

/** Target 1 (one tier), with the CPU per request; for the memory tier also targets 2 and 4. */
async function warm(backend: FuseBackendName, tier: 'memory' | 'disk', localPaths: string[], out: Record<string, unknown>): Promise<void> {
  const { reader, m, paths } = await mounted(tier, backend, {
    cacheDir: join(work, `cache-${tier}-${backend}`),
    memory: { maxBytes: tier === 'memory' ? 2 * TOTAL : 0 },
    disk: { maxBytes: 3 * TOTAL + 64 * MiB },
    s3: server.s3,
  })
  if (!(await reader.preload([PREFIX])).complete) throw new Error(`preload into the ${tier} bench cache incomplete`)
  const infos = await reader.list(PREFIX)
  await inProcess(reader, infos) // fills the memory tier
  const sourceRequests = reader.stats().source.requests
  const before = m.stats()
  const cpuBefore = await threadCpuNs()
  let readerCpu = 0
  const [mountMiBps, inProcessMiBps] = await alternate(async () => {
    const r = await pythons('drop', [paths])
    readerCpu += r.cpu
    return r.mibps
  }, () => inProcess(reader, infos))
  const cpuAfter = await threadCpuNs()
  const after = m.stats()
  const crossed = after.bytesRead - before.bytesRead
  if (crossed < REPEAT * TOTAL) throw new Error(`page cache was not dropped: only ${crossed} of ${REPEAT * TOTAL} bytes reached the daemon`)
  if (reader.stats().source.requests !== sourceRequests) throw new Error('the warm passes made source requests')
  // The in-process passes ran on the main thread too: the main-thread figure is an upper bound.
  const requests = Math.max(1, after.readRequests.count - before.readRequests.count)
  const perRequest = {
    kib: round(crossed / requests / 1024),
    mainThreadUsAtMost: round((cpuAfter.main - cpuBefore.main) / 1000 / requests),
    otherThreadsUs: round((cpuAfter.others - cpuBefore.others) / 1000 / requests),
    readerUs: round((readerCpu * 1e6) / requests),
  }
  out[`${tier}Dropped`] = { ...ratio(mountMiBps, inProcessMiBps), perRequest }
  console.log(`  ${tier} tier, page cache dropped: mount ${round(mountMiBps)} MiB/s vs in-process ${round(inProcessMiBps)} MiB/s = ${round(mountMiBps / inProcessMiBps)}x`)
  console.log(`    per request (${requests} of ${perRequest.kib} KiB): daemon main thread <= ${perRequest.mainThreadUsAtMost} us, other threads ${perRequest.otherThreadsUs} us, reader ${perRequest.readerUs} us of CPU`)

  if (tier === 'memory') {
    await pythons('keep', [paths]) // pages in
    await pythons('keep', [localPaths])
    const kept = m.stats().bytesRead
    const [keptMiBps, localMiBps] = await alternate(async () => (await pythons('keep', [paths])).mibps, async () => (await pythons('keep', [localPaths])).mibps)
    // A page or two may be reclaimed between passes; more than 1% means the cache was dropped.
    const refetched = m.stats().bytesRead - kept
    if (refetched > (REPEAT * TOTAL) / 100) throw new Error(`page cache not kept: ${refetched} bytes reached the daemon`)
    out.pageCacheKept = { ...ratio(keptMiBps, localMiBps), bytesThatReachedTheDaemon: refetched }
    console.log(`  page cache kept: mount ${round(keptMiBps)} MiB/s vs local files ${round(localMiBps)} MiB/s = ${round(keptMiBps / localMiBps)}x`)

    const [eight, one] = await alternate(async () => (await pythons('drop', paths.map((p) => [p]))).mibps, async () => (await pythons('drop', [paths])).mibps)
    out.eightReaders = ratio(eight, one)
    console.log(`  ${paths.length} processes on ${paths.length} files, page cache dropped: ${round(eight)} MiB/s together vs one process ${round(one)} MiB/s = ${round(eight / one)}x`)
  }
  await closeLast()
}

/** Target 3: fresh caches behind the remote-store model, mount against in-process (both ways). */
async function cold(backend: FuseBackendName, endpoint: string, out: Record<string, unknown>): Promise<void> {
  let pass = 0
  const fresh = (): BlockReaderOptions => ({ memory: { maxBytes: 2 * TOTAL }, s3: { ...server.s3, endpoint }, blockSize: BLOCK })
  const inProcessCold = async (how: 'readInto' | 'chunks') => {
    const reader = new BlockReader(fresh())
    try {
      return await inProcess(reader, await reader.list(PREFIX), how)
    } finally {
      await reader.close()
    }
  }
  const mounts: number[] = []
  const [chunksMiBps, readIntoMiBps] = await alternate(async () => {
    const { paths } = await mounted(`cold-${pass++}`, backend, fresh())
    mounts.push((await pythons('drop', [paths])).mibps)
    await closeLast()
    return inProcessCold('chunks')
  }, () => inProcessCold('readInto'), Math.min(REPEAT, 3))
  const mountMiBps = median(mounts)
  out.cold = { ...ratio(mountMiBps, chunksMiBps), readIntoMiBps: round(readIntoMiBps), vsReadInto: round(mountMiBps / readIntoMiBps) }
  console.log(`  cold, remote-store model: mount ${round(mountMiBps)} MiB/s vs in-process chunks() ${round(chunksMiBps)} MiB/s = ${round(mountMiBps / chunksMiBps)}x ` +
    `(vs an in-process readInto loop ${round(readIntoMiBps)} MiB/s: ${round(mountMiBps / readIntoMiBps)}x)`)
}

try {
  console.log(`bench fuse: ${OBJECTS} objects x ${OBJECT_BYTES / MiB} MiB = ${TOTAL / MiB} MiB, block ${BLOCK / MiB} MiB, median of ${REPEAT} ` +
    `(measured alternately); reader: python3 readinto ${READ / MiB} MiB; ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`)
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
  const store = COLD ? await startRemoteStore(server.endpoint, DEFAULT_MODEL) : undefined
  if (store) {
    cleanups.unshift(() => store.close())
    console.log(`cold passes: ${describeModel(DEFAULT_MODEL)} (a model, not a network)`)
  }

  for (const backend of BACKENDS) {
    const availability = await fuseAvailability(backend)
    if (!availability.available) {
      console.log(`${backend}: skipped (${availability.reason})`)
      results[backend] = { skipped: availability.reason }
      continue
    }
    console.log(`${backend}:`)
    const out: Record<string, unknown> = {}
    await warm(backend, 'memory', localPaths, out)
    await warm(backend, 'disk', localPaths, out)
    if (store) await cold(backend, store.endpoint, out)
    const r = (k: string) => (out[k] as Ratio | undefined)?.ratio
    out.pass = {
      warmVsInProcess: (r('memoryDropped') ?? 0) >= TARGETS.warmVsInProcess,
      pageCacheVsLocal: (r('pageCacheKept') ?? 0) >= TARGETS.pageCacheVsLocal,
      coldVsInProcess: store ? (r('cold') ?? 0) >= TARGETS.coldVsInProcess : undefined,
      eightVsOne: (r('eightReaders') ?? 0) >= TARGETS.eightVsOne,
    }
    results[backend] = out
  }
  console.log(JSON.stringify({ bench: 'fuse', objects: OBJECTS, objectBytes: OBJECT_BYTES, blockSize: BLOCK, repeat: REPEAT, cpus: cpus().length, targets: TARGETS, results }))
} finally {
  for (const r of readers) r.close()
  for (const c of cleanups.reverse()) await c()
  await server.close()
  await rm(work, { recursive: true, force: true })
}
