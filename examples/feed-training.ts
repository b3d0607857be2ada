/**
 * A training feeder: reads this rank's part of a TFRecord dataset, shuffled, in batches of
 * decoded Examples, and checkpoints its position so a restarted process continues exactly
 * where the last checkpoint left off.
 *
 *   node dist/examples/feed-training.js [source]
 *
 * Environment (the usual launcher variables):
 *   RANK / WORLD_SIZE     this process's rank and the number of ranks (default 0 / 1)
 *   SEED                  shuffle seed shared by all ranks (default 42)
 *   EPOCHS                epochs to run (default 2)
 *   BATCH                 examples per batch (default 32)
 *   CHECKPOINT_EVERY      batches between checkpoints (default 10)
 *   CHECKPOINT            checkpoint file (default ./feed-training-rank<RANK>.json)
 *   SLUICE_CACHE_DIR      disk cache (and record indexes) directory (default: memory only)
 *   STOP_AFTER            stop after this many batches, to try a restart (default: never)
 *
 * Without a source it writes a small demo dataset to a temp directory first.
 */
import { mkdtemp, readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, GiB } from '../lib/index.js'
import { encodeExample, tfrecords, TFRecordWriter, type TFRecordState } from '../loaders/tfrecord/index.js'

const env = (name: string, fallback: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`)
  return n
}

const rank = env('RANK', 0)
const world = env('WORLD_SIZE', 1)
const seed = env('SEED', 42)
const epochs = env('EPOCHS', 2)
const batchSize = env('BATCH', 32)
const checkpointEvery = env('CHECKPOINT_EVERY', 10)
const stopAfter = env('STOP_AFTER', Number.MAX_SAFE_INTEGER)
const checkpointPath = process.env.CHECKPOINT ?? `feed-training-rank${rank}.json`

interface Checkpoint {
  epoch: number
  state: TFRecordState | undefined
}

async function loadCheckpoint(): Promise<Checkpoint> {
  try {
    return JSON.parse(await readFile(checkpointPath, 'utf8')) as Checkpoint
  } catch {
    return { epoch: 0, state: undefined }
  }
}

async function saveCheckpoint(c: Checkpoint): Promise<void> {
  // write-then-rename: a crash mid-write never leaves a torn checkpoint
  const tmp = `${checkpointPath}.tmp`
  await writeFile(tmp, JSON.stringify(c))
  await rename(tmp, checkpointPath)
}

async function demoDataset(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-feed-demo-'))
  for (let s = 0; s < 4; s++) {
    const w = new TFRecordWriter(join(dir, `train-${s}-of-4.tfrecord`))
    for (let i = 0; i < 250; i++) {
      const id = s * 250 + i
      await w.write(encodeExample({ id: { kind: 'int64', value: [id] }, pixels: new Float32Array(64).fill(id % 7), label: { kind: 'int64', value: [id % 10] } }))
    }
    await w.close()
  }
  console.log(`demo dataset: ${dir}`)
  return `${dir}/*.tfrecord`
}

/** Stands in for a training step on the accelerator. */
async function trainStep(batch: { label: number }[]): Promise<void> {
  void batch
  await new Promise((resolve) => setImmediate(resolve))
}

async function main(): Promise<void> {
  const source = process.argv[2] ?? (await demoDataset())
  const reader = new BlockReader({ cacheDir: process.env.SLUICE_CACHE_DIR, memory: { maxBytes: 1 * GiB } })
  const checkpoint = await loadCheckpoint()
  if (checkpoint.state) console.log(`rank ${rank}: resuming epoch ${checkpoint.epoch} after ${checkpoint.state.delivered} examples`)
  let batches = 0
  try {
    for (let epoch = checkpoint.epoch; epoch < epochs; epoch++) {
      const resume = epoch === checkpoint.epoch ? checkpoint.state : undefined
      const ds = tfrecords(reader, source, {
        shuffle: { seed, buffer: 1024 },
        shard: { index: rank, count: world },
        epoch,
        resume,
      })
      let seen = 0
      for await (const batch of ds.examples({ features: ['label'], int64: 'number' }).batch(batchSize)) {
        await trainStep(batch.map((ex) => ({ label: (ex.label!.value as number[])[0]! })))
        seen += batch.length
        batches++
        if (batches % checkpointEvery === 0) await saveCheckpoint({ epoch, state: ds.state() })
        if (batches >= stopAfter) {
          await saveCheckpoint({ epoch, state: ds.state() })
          console.log(`rank ${rank}: stopping after ${batches} batches (checkpoint saved)`)
          return
        }
      }
      const s = ds.stats()
      console.log(
        `rank ${rank}: epoch ${epoch} done, ${seen} examples this run, ${s.records} records / ${s.bytes} bytes read, ` +
          `${s.corruptSkipped} corrupt skipped, waited ${s.waitMs.toFixed(1)} ms for data`,
      )
      await saveCheckpoint({ epoch: epoch + 1, state: undefined })
    }
  } finally {
    await reader.close()
  }
}

await main()
