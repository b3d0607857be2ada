/**
 * The data path at hardware speed (`node dist/bench/data-path.js`, issue #15), two questions,
 * each answered by ratios taken in one run against a baseline on the same bytes:
 *
 * - warm after a restart with the page cache dropped: a new process reads a filled disk tier
 *   (the steady state of every epoch when the dataset is larger than RAM) against a new
 *   process reading the same bytes from local files with fs.read in 4 MiB pieces. Before each
 *   run the bench writes 3 to /proc/sys/vm/drop_caches; without root that part is skipped
 *   with the reason printed. Rows: the default memory tier, and no memory tier (every read
 *   copied straight out of LMDB); and the file read into a new buffer per piece, kept, which
 *   is what promoting every block into the memory tier asks of the machine's memory.
 * - cold fill: a fresh cache (memory + disk tier) filled from s3rver running in another
 *   process, against a plain AWS SDK GetObject stream (default client) of the same objects:
 *   throughput and this process's CPU per GB (startS3Server runs s3rver in a child process, so
 *   the server's CPU is not counted); and the same stream keeping its bytes in 4 MiB blocks
 *   and writing them to new files (one sync per object): the least a persistent cache adds,
 *   which on a machine that charges for new memory is most of the difference (docs/benchmark.md).
 *
 * Each figure is the median of BENCH_REPEAT runs (3), alternating baseline and sluice.
 * Env: BENCH_OBJECTS (8), BENCH_OBJECT_MB (64), BENCH_REPEAT (3), BENCH_PART (all|warm|cold).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { S3Client } from '@aws-sdk/client-s3'
import { execFileSync, spawn } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BlockReader, MiB, makeS3Client, type BlockReaderOptions } from '../lib/index.js'
import { generatedBytes, putDataset } from '../examples/dataset.js'
import { startS3Server } from '../lib/testing/index.js'
import { READ, median, readFiles, readSluice, streamObjects, timedRead } from './support/plain-reads.js'

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 8)
const OBJECT_BYTES = Number(process.env.BENCH_OBJECT_MB ?? 64) * MiB
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const PART = process.env.BENCH_PART ?? 'all'
const TOTAL = OBJECTS * OBJECT_BYTES
const SELF = fileURLToPath(import.meta.url)

interface Run {
  mbPerSecond: number
  /** This process's CPU (user + system, every thread) per GB. */
  cpuSecondsPerGB: number
}

async function timed(fn: () => Promise<number>): Promise<Run> {
  const { bytes, seconds, cpuSecondsPerGB } = await timedRead(TOTAL, fn)
  return { mbPerSecond: bytes / 1e6 / seconds, cpuSecondsPerGB }
}

/** `name` and `nameCpu`: a's throughput and CPU per GB over b's. */
function versus(name: string, a: Run, b: Run): Record<string, number> {
  return { [name]: a.mbPerSecond / b.mbPerSecond, [`${name}Cpu`]: a.cpuSecondsPerGB / b.cpuSecondsPerGB }
}

/** Why the page cache cannot be dropped here, or undefined when it can. */
function dropCachesUnavailable(): string | undefined {
  try {
    execFileSync('sync')
    const fd = openSync('/proc/sys/vm/drop_caches', 'w')
    closeSync(fd)
    return undefined
  } catch (err) {
    return `cannot write /proc/sys/vm/drop_caches (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run as root`
  }
}

function dropCaches(): void {
  execFileSync('sync')
  const fd = openSync('/proc/sys/vm/drop_caches', 'w')
  writeSync(fd, '3')
  closeSync(fd)
}

/** Runs one measured read in a new process (the restart) and returns its figures. */
function child(kind: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SELF, '--child', kind, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.once('error', reject)
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(`${kind} child exited with ${code}`))))
  })
}

async function runChild(kind: string, args: string[]): Promise<void> {
  let run: Run
  if (kind === 'files' || kind === 'files-keep') {
    run = await timed(() => readFiles(args, kind === 'files-keep'))
  } else {
    const [cacheDir, memory, ...urls] = args
    const reader = new BlockReader({ cacheDir: cacheDir!, memory: { maxBytes: Number(memory) }, disk: { maxBytes: 4 * TOTAL } })
    await reader.ready()
    run = await timed(() => readSluice(reader, urls))
    const disk = reader.stats().tiers.find((t) => t.name === 'disk')
    await reader.close()
    if (disk === undefined || disk.hits === 0) throw new Error('the disk tier served nothing: the cache was not warm')
  }
  process.stdout.write(JSON.stringify(run))
}

function report(name: string, runs: Run[], results: Record<string, Run>): void {
  results[name] = { mbPerSecond: median(runs.map((r) => r.mbPerSecond)), cpuSecondsPerGB: median(runs.map((r) => r.cpuSecondsPerGB)) }
  const each = runs.map((r) => r.mbPerSecond.toFixed(0)).join(' ')
  console.log(`${name.padEnd(32)} ${results[name]!.mbPerSecond.toFixed(0).padStart(6)} MB/s  ${results[name]!.cpuSecondsPerGB.toFixed(2).padStart(5)} CPU s/GB   runs ${each}`)
}

async function warmAfterRestart(work: string, results: Record<string, Run>): Promise<Record<string, number>> {
  const why = dropCachesUnavailable()
  if (why !== undefined) {
    console.log(`SKIP warm after restart: ${why}`)
    return {}
  }
  const files: string[] = []
  for (let i = 0; i < OBJECTS; i++) {
    const path = join(work, `object-${i}`)
    await writeFile(path, generatedBytes(OBJECT_BYTES, `data-path/${i}`))
    files.push(path)
  }
  const cacheDir = join(work, 'cache')
  const filler = new BlockReader({ cacheDir, memory: { maxBytes: 0 }, disk: { maxBytes: 4 * TOTAL } } satisfies BlockReaderOptions)
  await readSluice(filler, files)
  await filler.close()
  const runs: Record<string, Run[]> = { files_fs_read: [], files_fs_read_new_buffers: [], sluice_disk_default_memory: [], sluice_disk_no_memory: [] }
  for (let r = 0; r < REPEAT; r++) {
    dropCaches()
    runs.files_fs_read!.push(await child('files', files))
    dropCaches()
    runs.files_fs_read_new_buffers!.push(await child('files-keep', files))
    dropCaches()
    runs.sluice_disk_default_memory!.push(await child('sluice', [cacheDir, String(512 * MiB), ...files]))
    dropCaches()
    runs.sluice_disk_no_memory!.push(await child('sluice', [cacheDir, '0', ...files]))
  }
  for (const [name, rs] of Object.entries(runs)) report(name, rs, results)
  const base = results.files_fs_read!
  return {
    ...versus('warmDefaultVsFiles', results.sluice_disk_default_memory!, base),
    ...versus('warmNoMemoryVsFiles', results.sluice_disk_no_memory!, base),
    ...versus('newBuffersVsFiles', results.files_fs_read_new_buffers!, base),
    ...versus('warmDefaultVsNewBuffers', results.sluice_disk_default_memory!, results.files_fs_read_new_buffers!),
  }
}

async function coldFill(work: string, results: Record<string, Run>): Promise<Record<string, number>> {
  const server = await startS3Server({ buckets: ['bench'], directory: join(work, 's3') })
  try {
    const client = makeS3Client(server.s3)
    const urls = await putDataset(client, 'bench', 'data-path/', OBJECTS, OBJECT_BYTES)
    client.destroy()
    const { endpoint, region, forcePathStyle, credentials } = server.s3
    const plain = new S3Client({ endpoint, region, forcePathStyle, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
    await streamObjects(plain, urls, 'discard') // warms the server's own file reads
    const runs: Record<string, Run[]> = { sdk_getobject_stream: [], sdk_stream_keep_write: [], sluice_cold_fill: [] }
    for (let r = 0; r < REPEAT; r++) {
      runs.sdk_getobject_stream!.push(await timed(() => streamObjects(plain, urls, 'discard')))
      const written = join(work, `written-${r}`)
      await mkdir(written)
      runs.sdk_stream_keep_write!.push(await timed(() => streamObjects(plain, urls, 'keep', written)))
      const reader = new BlockReader({ s3: server.s3, cacheDir: join(work, `cold-${r}`), disk: { maxBytes: 4 * TOTAL } })
      await reader.ready()
      runs.sluice_cold_fill!.push(
        await timed(async () => {
          const n = await readSluice(reader, urls)
          await reader.flush() // the fill is done when the disk tier holds it
          return n
        }),
      )
      await reader.close()
    }
    plain.destroy()
    for (const [name, rs] of Object.entries(runs)) report(name, rs, results)
    const base = results.sdk_getobject_stream!
    return {
      ...versus('coldVsSdkStream', results.sluice_cold_fill!, base),
      ...versus('keepWriteVsSdkStream', results.sdk_stream_keep_write!, base),
      ...versus('coldVsKeepWrite', results.sluice_cold_fill!, results.sdk_stream_keep_write!),
    }
  } finally {
    await server.close()
  }
}

if (process.argv[2] === '--child') {
  await runChild(process.argv[3]!, process.argv.slice(4))
} else {
  const work = await mkdtemp(join(tmpdir(), 'sluice-bench-data-path-'))
  try {
    console.log('config', JSON.stringify({ objects: OBJECTS, objectMB: OBJECT_BYTES / MiB, repeat: REPEAT, readBytes: READ, node: process.version }))
    const results: Record<string, Run> = {}
    const ratios = {
      ...(PART === 'cold' ? {} : await warmAfterRestart(work, results)),
      ...(PART === 'warm' ? {} : await coldFill(work, results)),
    }
    console.log('ratios', JSON.stringify(Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, Number(v.toFixed(2))]))))
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
