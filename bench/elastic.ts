/**
 * Elastic resume benchmark (`npm run bench -- elastic`, or `node dist/bench/elastic.js`): what
 * it costs a job to restart at another world size.
 *
 * Writes BENCH_ELASTIC_SHARDS uncompressed shards of BENCH_ELASTIC_RECORDS records to a temp
 * directory. Per scenario (mode, N -> M) the N ranks read to the middle of their parts through
 * one BlockReader with a cache directory, their states go through JSON and mergeStates, then
 * each of the M ranks resumes in a fresh BlockReader on the same cache directory (the disk
 * tier and the stored record indexes, as restarted processes on the node find them), timed
 * from `tfrecords(..., { resume })` to its first record. The baseline is a rank resumed from
 * its own state at the same world size. Also the sizes of a rank's state and of the merged one.
 *
 * Files mode reads without an index: a resumed rank whose first piece starts inside a shard
 * reads that shard from its start and skips what was delivered, which is most of its time to
 * the first record. Records and global modes open the stored indexes and read at the record.
 *
 * Env: BENCH_ELASTIC_SHARDS (32), BENCH_ELASTIC_RECORDS (4000 per shard),
 * BENCH_ELASTIC_RECORD_BYTES (512), BENCH_ELASTIC_BUFFER (1024, the shuffle buffer).
 * Prints its configuration, a line per scenario, and one JSON line.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { randomFillSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BlockReader, GiB, MiB } from '../lib/index.js'
import { mergeStates, tfrecords, TFRecordWriter, type TFRecordOptions, type TFRecordState } from '../loaders/tfrecord/index.js'

const SHARDS = Number(process.env.BENCH_ELASTIC_SHARDS ?? 32)
const RECORDS = Number(process.env.BENCH_ELASTIC_RECORDS ?? 4000)
const RECORD_BYTES = Number(process.env.BENCH_ELASTIC_RECORD_BYTES ?? 512)
const BUFFER = Number(process.env.BENCH_ELASTIC_BUFFER ?? 1024)
const BLOCK = 4 * MiB

interface Scenario {
  mode: 'files' | 'records' | 'global'
  from: number
  to: number
}

const SCENARIOS: Scenario[] = [
  { mode: 'files', from: 4, to: 3 },
  { mode: 'files', from: 4, to: 8 },
  { mode: 'records', from: 4, to: 3 },
  { mode: 'records', from: 8, to: 1 },
  { mode: 'global', from: 4, to: 3 },
  { mode: 'global', from: 8, to: 1 },
]

function optionsOf(s: Scenario): TFRecordOptions {
  if (s.mode === 'global') return { shuffle: { seed: 1, global: true } }
  return { shuffle: { seed: 1, buffer: BUFFER } }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

async function writeShards(dir: string): Promise<string[]> {
  const payload = new Uint8Array(RECORD_BYTES)
  randomFillSync(payload)
  const urls: string[] = []
  for (let k = 0; k < SHARDS; k++) {
    const path = join(dir, `train-${String(k).padStart(5, '0')}.tfrecord`)
    const w = new TFRecordWriter(path)
    for (let i = 0; i < RECORDS; i++) await w.write(payload)
    await w.close()
    urls.push(pathToFileURL(path).href)
  }
  return urls
}

function newReader(cacheDir: string): BlockReader {
  return new BlockReader({ cacheDir, memory: { maxBytes: 256 * MiB }, disk: { maxBytes: 4 * GiB }, blockSize: BLOCK })
}

/** Reads `cut` records of rank `index` of `count`; the state after them, through JSON. */
async function readTo(reader: BlockReader, source: string[], options: TFRecordOptions, cut: number): Promise<TFRecordState> {
  const ds = tfrecords(reader, source, options)
  let n = 0
  if (cut > 0) {
    for await (const _ of ds) if (++n >= cut) break
  }
  const state = JSON.parse(JSON.stringify(ds.state())) as TFRecordState
  await ds.close()
  return state
}

/**
 * Milliseconds from making the dataset to its first record, in a fresh reader on `cacheDir`,
 * and the size of the rank's state then (what its checkpoints carry from now on).
 */
async function timeToFirst(cacheDir: string, source: string[], options: TFRecordOptions): Promise<{ ms: number; stateBytes: number }> {
  const reader = newReader(cacheDir)
  try {
    await reader.ready()
    const t0 = performance.now()
    const ds = tfrecords(reader, source, options)
    const first = await ds[Symbol.asyncIterator]().next()
    const ms = performance.now() - t0
    const stateBytes = JSON.stringify(ds.state()).length
    await ds.close()
    return { ms: first.done ? Number.NaN : ms, stateBytes }
  } finally {
    await reader.close()
  }
}

async function scenario(cacheDir: string, source: string[], s: Scenario): Promise<Record<string, unknown>> {
  const options = optionsOf(s)
  const shardMode = s.mode === 'records' ? 'records' : 'auto'
  const cut = Math.floor((SHARDS * RECORDS) / s.from / 2)
  const reader = newReader(cacheDir)
  const states: TFRecordState[] = []
  try {
    for (let index = 0; index < s.from; index++) {
      states.push(await readTo(reader, source, { ...options, shard: { index, count: s.from, mode: shardMode } }, cut))
    }
  } finally {
    await reader.close()
  }
  const t0 = performance.now()
  const merged = mergeStates(states)
  const mergeMs = performance.now() - t0
  const resumed: { ms: number; stateBytes: number }[] = []
  for (let index = 0; index < s.to; index++) {
    resumed.push(await timeToFirst(cacheDir, source, { ...options, shard: { index, count: s.to, mode: shardMode }, resume: merged }))
  }
  const sameWorld = await timeToFirst(cacheDir, source, { ...options, shard: { index: 0, count: s.from, mode: shardMode }, resume: states[0] })
  const firstMs = resumed.map((r) => r.ms)
  return {
    scenario: `${s.mode} ${s.from}->${s.to}`,
    rankStateBytes: Math.max(...states.map((st) => JSON.stringify(st).length)),
    mergedStateBytes: JSON.stringify(merged).length,
    resumedRankStateBytes: Math.max(...resumed.map((r) => r.stateBytes)),
    mergeMs: round(mergeMs, 2),
    firstRecordMedianMs: round(median(firstMs)),
    firstRecordMaxMs: round(Math.max(...firstMs)),
    sameWorldFirstRecordMs: round(sameWorld.ms),
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-elastic-'))
  try {
    const source = await writeShards(dir)
    const cacheDir = join(dir, 'cache')
    const config = {
      shards: SHARDS,
      recordsPerShard: RECORDS,
      recordBytes: RECORD_BYTES,
      buffer: BUFFER,
      blockBytes: BLOCK,
      cut: 'each rank at the middle of its part',
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      node: process.version,
    }
    console.log('config', JSON.stringify(config))
    // the record indexes, once, as an earlier epoch in records or global mode leaves them
    const indexing = newReader(cacheDir)
    await readTo(indexing, source, { shuffle: { seed: 0, global: true } }, 1)
    await indexing.close()
    const results: Record<string, unknown>[] = []
    for (const s of SCENARIOS) {
      const r = await scenario(cacheDir, source, s)
      results.push(r)
      console.log(
        `${String(r.scenario).padEnd(12)} state ${r.rankStateBytes} B per rank, merged ${r.mergedStateBytes} B in ${r.mergeMs} ms, ` +
          `${r.resumedRankStateBytes} B per resumed rank | ` +
          `first record at the new size: median ${r.firstRecordMedianMs} ms, max ${r.firstRecordMaxMs} ms (same size: ${r.sameWorldFirstRecordMs} ms)`,
      )
    }
    console.log(JSON.stringify({ bench: 'elastic', results, config }))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
