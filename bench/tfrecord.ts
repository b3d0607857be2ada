/**
 * TFRecord loader benchmark (`npm run bench -- tfrecord`), measured in one run on the same
 * bytes, each figure the median of BENCH_REPEAT repetitions, the cache warm throughout:
 *
 * - local limit: the shards as local files read with fs.read into a reused 4 MiB buffer
 *   (warm page cache) and CRC32C computed over every chunk in the same pass;
 * - records: `tfrecords()` over the same files through a BlockReader whose memory tier holds
 *   them all (warm), both CRCs of every record checked;
 * - examples: `ds.examples()` over the same shards (ImageNet-like Examples: one ~110 KB
 *   encoded image, label, height, width, format), reported as extra time over records;
 * - small records: 1 KB records through the same path, in records per second.
 *
 * Targets (issue 3): records ≥ 60% of the local limit; examples ≤ 25% extra; ≥ 300k small
 * records/s. Prints its configuration, a human summary, and one JSON line.
 *
 * Env: BENCH_TFRECORD_MB (256, large-record data), BENCH_SMALL_RECORDS (300000),
 * BENCH_REPEAT (5), BENCH_READER (`block` | `plain`: bench/support/plain-file-reader.ts instead).
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { crc32c } from '@node-rs/crc32'
import { randomFillSync } from 'node:crypto'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BlockReader, GiB, MiB, type ObjectReader } from '../lib/index.js'
import { encodeExample, encodeTFRecords, tfrecords } from '../loaders/tfrecord/index.js'
import { PlainFileReader } from './support/plain-file-reader.js'

const TOTAL_MB = Number(process.env.BENCH_TFRECORD_MB ?? 256)
const SMALL_RECORDS = Number(process.env.BENCH_SMALL_RECORDS ?? 300_000)
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5)
const READER = process.env.BENCH_READER ?? 'block'
const RECORD_BYTES = 110_000
const SHARD_MB = 64
const BLOCK = 4 * MiB

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return (performance.now() - t0) / 1000
}

function imagenetLike(i: number, image: Uint8Array): Uint8Array {
  return encodeExample({
    'image/encoded': [image],
    'image/format': ['JPEG'],
    'image/class/label': { kind: 'int64', value: [i % 1000] },
    'image/height': { kind: 'int64', value: [375] },
    'image/width': { kind: 'int64', value: [500] },
    'image/filename': [`n01440764_${i}.JPEG`],
  })
}

async function writeShards(dir: string, prefix: string, records: (i: number) => Uint8Array, total: number, perShard: number): Promise<{ paths: string[]; bytes: number }> {
  const paths: string[] = []
  let bytes = 0
  for (let s = 0, i = 0; i < total; s++) {
    const batch: Uint8Array[] = []
    for (let j = 0; j < perShard && i < total; j++, i++) batch.push(records(i))
    const data = encodeTFRecords(batch)
    const path = join(dir, `${prefix}-${String(s).padStart(5, '0')}.tfrecord`)
    await writeFile(path, data)
    paths.push(path)
    bytes += data.length
  }
  return { paths, bytes }
}

async function localLimit(paths: string[]): Promise<number> {
  const buf = Buffer.allocUnsafe(BLOCK)
  let crc = 0
  for (const path of paths) {
    const fh = await open(path, 'r')
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, BLOCK, null)
        if (bytesRead === 0) break
        crc ^= crc32c(buf.subarray(0, bytesRead))
      }
    } finally {
      await fh.close()
    }
  }
  return crc
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-tfrecord-'))
  const image = new Uint8Array(RECORD_BYTES - 150)
  randomFillSync(image)
  const largeCount = Math.max(1, Math.floor((TOTAL_MB * MiB) / RECORD_BYTES))
  const large = await writeShards(dir, 'imagenet', (i) => imagenetLike(i, image), largeCount, Math.floor((SHARD_MB * MiB) / RECORD_BYTES))
  const small1k = new Uint8Array(1024)
  randomFillSync(small1k)
  const small = await writeShards(dir, 'small', () => small1k, SMALL_RECORDS, 65_536)

  const config = {
    reader: READER,
    records: largeCount,
    recordBytes: RECORD_BYTES,
    dataBytes: large.bytes,
    shards: large.paths.length,
    blockBytes: BLOCK,
    smallRecords: SMALL_RECORDS,
    repeat: REPEAT,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
  }
  console.log('config', JSON.stringify(config))

  const reader: ObjectReader & { close?: () => Promise<void> } =
    READER === 'plain' ? new PlainFileReader(BLOCK) : new BlockReader({ memory: { maxBytes: 2 * GiB }, blockSize: BLOCK })
  const largeSource = large.paths.map((p) => pathToFileURL(p).href)
  const smallSource = small.paths.map((p) => pathToFileURL(p).href)

  const iterate = async (source: string[]) => {
    let n = 0
    for await (const r of tfrecords(reader, source)) n += r.length
    return n
  }
  const decode = async (source: string[]) => {
    let n = 0
    for await (const ex of tfrecords(reader, source).examples()) n += (ex['image/encoded']!.value as Uint8Array[])[0]!.length
    return n
  }
  const count = async (source: string[]) => {
    let n = 0
    for await (const _ of tfrecords(reader, source)) n++
    return n
  }

  // warm: page cache for the files, memory tier for the reader
  await localLimit([...large.paths, ...small.paths])
  await iterate(largeSource)
  await iterate(smallSource)

  const limitT: number[] = []
  const recordsT: number[] = []
  const examplesT: number[] = []
  const smallT: number[] = []
  for (let r = 0; r < REPEAT; r++) {
    limitT.push(await timed(() => localLimit(large.paths)))
    recordsT.push(await timed(() => iterate(largeSource)))
    examplesT.push(await timed(() => decode(largeSource)))
    smallT.push(await timed(() => count(smallSource)))
  }
  const mbps = (t: number) => large.bytes / MiB / t
  const result = {
    bench: 'tfrecord',
    localLimitMiBps: round(mbps(median(limitT))),
    recordsMiBps: round(mbps(median(recordsT))),
    recordsVsLimit: round(median(limitT) / median(recordsT), 3),
    examplesMiBps: round(mbps(median(examplesT))),
    examplesExtra: round(median(examplesT) / median(recordsT) - 1, 3),
    largeRecordsPerSec: Math.round(largeCount / median(recordsT)),
    smallRecordsPerSec: Math.round(SMALL_RECORDS / median(smallT)),
    targets: { recordsVsLimit: 0.6, examplesExtra: 0.25, smallRecordsPerSec: 300_000 },
  }
  console.log(
    `local limit ${result.localLimitMiBps} MiB/s | records (both CRCs) ${result.recordsMiBps} MiB/s = ` +
      `${Math.round(result.recordsVsLimit * 100)}% of limit | examples() ${result.examplesMiBps} MiB/s ` +
      `(+${Math.round(result.examplesExtra * 100)}%) | 1 KB records ${result.smallRecordsPerSec}/s`,
  )
  console.log(JSON.stringify({ ...result, config }))
  await reader.close?.()
  await rm(dir, { recursive: true, force: true })
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

await main()
