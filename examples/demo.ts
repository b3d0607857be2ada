/**
 * `npm run demo`: the whole core on an embedded default. Starts an S3-compatible server on
 * loopback (s3rver), puts a generated dataset in it, and reads the dataset three times
 * through a BlockReader with a fresh cache directory: cold (from the store), warm (memory
 * tier), and after a restart (a new reader on the same cache directory: the disk tier).
 * Prints, per pass, throughput, GETs and bytes from the store, and hit ratios per tier.
 *
 * Options: DEMO_OBJECTS (default 8), DEMO_OBJECT_MB (default 32).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, GiB, MiB, makeS3Client, type ReaderStats } from '../lib/index.js'
import { startS3Server } from '../lib/testing/index.js'
import { putDataset } from './dataset.js'

const objects = Number(process.env.DEMO_OBJECTS ?? 8)
const objectBytes = Number(process.env.DEMO_OBJECT_MB ?? 32) * MiB

interface PassResult {
  pass: string
  seconds: number
  mbPerSecond: number
  gets: number
  sourceMiB: number
  memoryHitRatio: number
  diskHitRatio: number
}

function ratio(hits: number, misses: number): number {
  return hits + misses === 0 ? 0 : hits / (hits + misses)
}

async function pass(name: string, reader: BlockReader, urls: string[]): Promise<PassResult> {
  const before: ReaderStats = reader.stats()
  const started = performance.now()
  let bytes = 0
  // Two objects at a time, as a data loader with two workers would.
  const queue = [...urls]
  await Promise.all(
    [0, 1].map(async () => {
      for (let url = queue.shift(); url; url = queue.shift()) {
        const h = await reader.open(url)
        for await (const chunk of h.chunks()) bytes += chunk.length
        await h.close()
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const after = reader.stats()
  const tier = (s: ReaderStats, n: string) => s.tiers.find((t) => t.name === n) ?? { hits: 0, misses: 0 }
  const d = (n: string) => ({
    hits: tier(after, n).hits - tier(before, n).hits,
    misses: tier(after, n).misses - tier(before, n).misses,
  })
  const mem = d('memory')
  const disk = d('disk')
  return {
    pass: name,
    seconds,
    mbPerSecond: bytes / MiB / seconds,
    gets: after.source.gets - before.source.gets,
    sourceMiB: (after.source.bytes - before.source.bytes) / MiB,
    memoryHitRatio: ratio(mem.hits, mem.misses),
    diskHitRatio: ratio(disk.hits, disk.misses),
  }
}

function print(r: PassResult): void {
  console.log(
    `${r.pass.padEnd(28)} ${r.mbPerSecond.toFixed(0).padStart(7)} MiB/s ${r.seconds.toFixed(2).padStart(7)} s ` +
      `${String(r.gets).padStart(6)} GETs ${r.sourceMiB.toFixed(0).padStart(6)} MiB from store ` +
      `  memory hits ${(100 * r.memoryHitRatio).toFixed(0).padStart(3)}%  disk hits ${(100 * r.diskHitRatio).toFixed(0).padStart(3)}%`,
  )
}

const work = await mkdtemp(join(tmpdir(), 'sluice-demo-'))
const server = await startS3Server({ buckets: ['demo'], directory: join(work, 's3') })
try {
  console.log(`sluice demo: s3rver on ${server.endpoint}, dataset ${objects} x ${objectBytes / MiB} MiB, cache ${join(work, 'cache')}`)
  const client = makeS3Client(server.s3)
  const t0 = performance.now()
  const urls = await putDataset(client, 'demo', 'train/', objects, objectBytes)
  client.destroy()
  console.log(`uploaded ${objects} objects in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
  const options = { cacheDir: join(work, 'cache'), s3: server.s3, memory: { maxBytes: 1 * GiB }, disk: { maxBytes: 4 * GiB } }
  const results: PassResult[] = []
  let reader = new BlockReader(options)
  results.push(await pass('1. cold (from the store)', reader, urls))
  print(results[0]!)
  await reader.flush()
  results.push(await pass('2. warm (memory tier)', reader, urls))
  print(results[1]!)
  await reader.close()
  reader = new BlockReader(options)
  results.push(await pass('3. restarted (disk tier)', reader, urls))
  print(results[2]!)
  await reader.close()
  console.log(`\nwarm/cold: ${(results[1]!.mbPerSecond / results[0]!.mbPerSecond).toFixed(1)}x   disk/cold: ${(results[2]!.mbPerSecond / results[0]!.mbPerSecond).toFixed(1)}x`)
  console.log(JSON.stringify({ demo: 'core', objects, objectBytes, results }))
} finally {
  await server.close()
  await rm(work, { recursive: true, force: true })
}
