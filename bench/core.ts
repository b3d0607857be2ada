/**
 * Core benchmark (`npm run bench -- core`): the block reader against its baselines, measured
 * in one run on the same bytes, each figure the median of several repetitions.
 *
 * - page cache: the dataset as local files, read with fs.read into a reused 4 MiB buffer
 *   (warm page cache): the local limit;
 * - SDK stream: a plain sequential GetObject per object with the AWS SDK: what a reader
 *   without sluice gets from the same server;
 * - sluice cold (fresh cache, inline fetches and 1/2 worker threads), warm memory tier, and
 *   warm disk tier (new process state, LMDB pages in the page cache), all read with
 *   readInto into a reused 4 MiB buffer like the page-cache baseline.
 *
 * The store is s3rver on loopback: a real S3 protocol peer but not a remote network, so the
 * cold figures measure protocol and cache overheads, not WAN latency (the full benchmark
 * harness adds a model of a remote store).
 *
 * Env: BENCH_OBJECTS (4), BENCH_OBJECT_MB (64), BENCH_REPEAT (3).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { GetObjectCommand } from '@aws-sdk/client-s3'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { BlockReader, GiB, MiB, makeS3Client, parseS3Url, type BlockReaderOptions } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { generatedBytes, putDataset } from '../examples/dataset.js'

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 4)
const OBJECT_BYTES = Number(process.env.BENCH_OBJECT_MB ?? 64) * MiB
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const READ = 4 * MiB
const TOTAL = OBJECTS * OBJECT_BYTES

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function timed(fn: () => Promise<number>): Promise<number> {
  const t = performance.now()
  const bytes = await fn()
  const seconds = (performance.now() - t) / 1000
  if (bytes !== TOTAL) throw new Error(`read ${bytes} bytes, expected ${TOTAL}`)
  return bytes / MiB / seconds
}

async function readFiles(paths: string[]): Promise<number> {
  const buf = Buffer.allocUnsafe(READ)
  let total = 0
  for (const p of paths) {
    const fh = await open(p, 'r')
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, READ, pos)
      if (bytesRead === 0) break
      pos += bytesRead
      total += bytesRead
    }
    await fh.close()
  }
  return total
}

async function readSluice(reader: BlockReader, urls: string[]): Promise<number> {
  const buf = Buffer.allocUnsafe(READ)
  let total = 0
  for (const url of urls) {
    const h = await reader.open(url)
    for (let pos = 0; pos < h.size; ) {
      const n = await h.readInto(buf, 0, pos, READ)
      pos += n
      total += n
    }
    await h.close()
  }
  return total
}

const work = await mkdtemp(join(tmpdir(), 'sluice-bench-core-'))
const server = await startS3Server({ buckets: ['bench'], directory: join(work, 's3') })
try {
  const client = makeS3Client(server.s3)
  const urls = await putDataset(client, 'bench', 'core/', OBJECTS, OBJECT_BYTES)
  const files: string[] = []
  for (const url of urls) {
    const path = join(work, parseS3Url(url).key.replaceAll('/', '_'))
    await writeFile(path, generatedBytes(OBJECT_BYTES, parseS3Url(url).key))
    files.push(path)
  }
  const config = { objects: OBJECTS, objectBytes: OBJECT_BYTES, readBytes: READ, repeat: REPEAT, blockSize: 4 * MiB, cpus: cpus().length, memGiB: Math.round(totalmem() / GiB), node: process.version }
  console.log('config', JSON.stringify(config))
  const results: Record<string, number> = {}
  const measure = async (name: string, fn: () => Promise<number>, prepare?: () => Promise<void>) => {
    const runs: number[] = []
    for (let i = 0; i < REPEAT; i++) {
      await prepare?.()
      runs.push(await timed(fn))
    }
    results[name] = median(runs)
    console.log(`${name.padEnd(28)} ${results[name]!.toFixed(0).padStart(7)} MiB/s   runs ${runs.map((r) => r.toFixed(0)).join(' ')}`)
  }

  await readFiles(files)
  await measure('pagecache_fs_read', () => readFiles(files))
  await measure('sdk_getobject_stream', async () => {
    let total = 0
    for (const url of urls) {
      const { bucket, key } = parseS3Url(url)
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      for await (const chunk of res.Body as Readable) total += (chunk as Buffer).length
    }
    return total
  })

  const base: BlockReaderOptions = { s3: server.s3, memory: { maxBytes: 2 * TOTAL }, disk: { maxBytes: 4 * TOTAL } }
  let dirs = 0
  for (const threads of [0, 1, 2]) {
    let reader: BlockReader | undefined
    await measure(
      `sluice_cold_threads${threads}`,
      async () => {
        const n = await readSluice(reader!, urls)
        return n
      },
      async () => {
        await reader?.close()
        reader = new BlockReader({ ...base, cacheDir: join(work, `cache-${dirs++}`), prefetch: { threads } })
      },
    )
    await reader!.flush()
    if (threads === 0) {
      await measure('sluice_warm_memory', () => readSluice(reader!, urls))
      const cacheDir = join(work, `cache-${dirs - 1}`)
      await reader!.close()
      reader = new BlockReader({ ...base, cacheDir, memory: { maxBytes: 0 } })
      await readSluice(reader, urls)
      await measure('sluice_warm_disk', () => readSluice(reader!, urls))
    }
    await reader!.close()
  }
  client.destroy()
  const ratios = {
    warmMemoryVsPageCache: results.sluice_warm_memory! / results.pagecache_fs_read!,
    warmDiskVsPageCache: results.sluice_warm_disk! / results.pagecache_fs_read!,
    coldInlineVsSdkStream: results.sluice_cold_threads0! / results.sdk_getobject_stream!,
    coldThreads1VsSdkStream: results.sluice_cold_threads1! / results.sdk_getobject_stream!,
    coldThreads2VsSdkStream: results.sluice_cold_threads2! / results.sdk_getobject_stream!,
  }
  for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(28)} ${v.toFixed(2)}x`)
  console.log(JSON.stringify({ bench: 'core', config, mibPerSecond: results, ratios }))
} finally {
  await server.close()
  await rm(work, { recursive: true, force: true })
}
