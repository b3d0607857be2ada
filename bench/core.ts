/**
 * Core benchmark (`npm run bench -- core`): the block reader against its baselines, measured
 * in one run on the same bytes, each figure the median of several repetitions.
 *
 * - page cache: the dataset as local files, read with fs.read into a reused 4 MiB buffer
 *   (warm page cache): the local limit; and the same bytes written to new files and over
 *   files already cached, which shows what this machine charges for new memory;
 * - SDK stream: a plain sequential GetObject per object with an AWS SDK client as a user
 *   builds it (the SDK's default node:http handler): what a reader without sluice gets from
 *   the same server; and the same stream over sluice's transport (makeS3Client, undici), which
 *   separates what the transport saves from what the cache costs;
 * - SDK stream (sluice's transport) that keeps its bytes, and one that also writes them to new local files: the
 *   least work any cache must add to the stream (one copy into memory it keeps, one write
 *   into new page-cache pages, one sync per object). They separate what sluice itself costs
 *   from what keeping and persisting bytes costs on the machine at hand, which on a VM that
 *   hands fresh memory back to its host is most of the difference (docs/benchmark.md);
 * - sluice cold (fresh cache, inline fetches and 1/2 worker threads), cold into a cache that
 *   held data before (tiers emptied, memory and file pages reused), warm memory tier, and
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

import { S3Client } from '@aws-sdk/client-s3'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { BlockReader, GiB, MiB, makeS3Client, parseS3Url, type BlockReaderOptions } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { generatedBytes, putDataset } from '../examples/dataset.js'
import { READ, median, readFiles, readSluice, streamObjects, timedRead } from './support/plain-reads.js'

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 4)
const OBJECT_BYTES = Number(process.env.BENCH_OBJECT_MB ?? 64) * MiB
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const TOTAL = OBJECTS * OBJECT_BYTES

interface Run {
  mibPerSecond: number
  /** Process CPU (user + system) per GB read: the server's is not included. */
  cpuSecondsPerGB: number
}

async function timed(fn: () => Promise<number>): Promise<Run> {
  const { bytes, seconds, cpuSecondsPerGB } = await timedRead(TOTAL, fn)
  return { mibPerSecond: bytes / MiB / seconds, cpuSecondsPerGB }
}

/** Writes TOTAL bytes as OBJECTS files in `dir`, 4 MiB at a time from one buffer, one sync per file. */
async function writeFiles(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true })
  const buf = Buffer.alloc(READ, 1)
  let total = 0
  for (let i = 0; i < OBJECTS; i++) {
    const fh = await open(join(dir, `object-${i}`), 'w')
    for (let pos = 0; pos < OBJECT_BYTES; pos += READ) total += (await fh.write(buf, 0, READ, pos)).bytesWritten
    await fh.sync()
    await fh.close()
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
  const cpuSecondsPerGB: Record<string, number> = {}
  const measure = async (name: string, fn: () => Promise<number>, prepare?: () => Promise<void>) => {
    const runs: Run[] = []
    for (let i = 0; i < REPEAT; i++) {
      await prepare?.()
      runs.push(await timed(fn))
    }
    results[name] = median(runs.map((r) => r.mibPerSecond))
    cpuSecondsPerGB[name] = median(runs.map((r) => r.cpuSecondsPerGB))
    const each = runs.map((r) => r.mibPerSecond.toFixed(0)).join(' ')
    console.log(`${name.padEnd(28)} ${results[name]!.toFixed(0).padStart(7)} MiB/s  ${cpuSecondsPerGB[name]!.toFixed(2).padStart(5)} CPU s/GB   runs ${each}`)
  }

  await readFiles(files)
  await measure('pagecache_fs_read', () => readFiles(files))
  // What the machine charges for page-cache pages it has to find, against pages it has:
  // writing the dataset to new files, and over the same files again.
  let newFiles = 0
  await measure('pagecache_write_new_files', () => writeFiles(join(work, `new-${newFiles++}`)))
  await writeFiles(join(work, 'overwritten'))
  await measure('pagecache_overwrite', () => writeFiles(join(work, 'overwritten')))
  // The baseline a user without sluice has: the SDK's defaults, with only what s3rver needs.
  const { endpoint, region, forcePathStyle, credentials } = server.s3
  const plainClient = new S3Client({
    ...{ endpoint, region, forcePathStyle, credentials },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  await streamObjects(plainClient, urls, 'discard')
  await measure('sdk_getobject_stream', () => streamObjects(plainClient, urls, 'discard'))
  await measure('sdk_stream_sluice_transport', () => streamObjects(client, urls, 'discard'))
  let writes = 0
  await measure('sdk_stream_keep', () => streamObjects(client, urls, 'keep'))
  await measure('sdk_stream_keep_write', async () => {
    const dir = join(work, `written-${writes++}`)
    await mkdir(dir)
    return streamObjects(client, urls, 'keep', dir)
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
    if (threads === 0) {
      // Cold reads into a cache that has held data before: both tiers emptied, so every byte
      // is fetched, kept and stored again, but into memory and LMDB file pages the process
      // and the page cache already have, as in a cache that has filled up and evicts.
      const reused = new BlockReader({ ...base, cacheDir: join(work, 'reused') })
      await readSluice(reused, urls)
      await measure('sluice_cold_reused_cache', () => readSluice(reused, urls), () => reused.clearCache())
      await reused.close()
    }
  }
  client.destroy()
  plainClient.destroy()
  const ratios = {
    warmMemoryVsPageCache: results.sluice_warm_memory! / results.pagecache_fs_read!,
    warmDiskVsPageCache: results.sluice_warm_disk! / results.pagecache_fs_read!,
    coldInlineVsSdkStream: results.sluice_cold_threads0! / results.sdk_getobject_stream!,
    coldInlineVsKeepWrite: results.sluice_cold_threads0! / results.sdk_stream_keep_write!,
    coldReusedCacheVsSdkStream: results.sluice_cold_reused_cache! / results.sdk_getobject_stream!,
    sluiceTransportVsSdkStream: results.sdk_stream_sluice_transport! / results.sdk_getobject_stream!,
    keepVsSdkStream: results.sdk_stream_keep! / results.sdk_getobject_stream!,
    keepWriteVsSdkStream: results.sdk_stream_keep_write! / results.sdk_getobject_stream!,
    newFilesVsOverwrite: results.pagecache_write_new_files! / results.pagecache_overwrite!,
    coldThreads1VsSdkStream: results.sluice_cold_threads1! / results.sdk_getobject_stream!,
    coldThreads2VsSdkStream: results.sluice_cold_threads2! / results.sdk_getobject_stream!,
  }
  for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(28)} ${v.toFixed(2)}x`)
  console.log(JSON.stringify({ bench: 'core', config, mibPerSecond: results, cpuSecondsPerGB, ratios }))
} finally {
  await server.close()
  await rm(work, { recursive: true, force: true })
}
