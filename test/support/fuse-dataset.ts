/**
 * A small dataset on a real S3-compatible server (s3rver on loopback) for the CLI and mount
 * tests, including a genuine TensorFlow-written TFRecord from test/fixtures, plus the
 * environment that points a spawned `sluice` at it through the standard AWS_* variables, the
 * way users configure it.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { makeS3Client, MiB } from '../../lib/index.js'
import { startS3Server, type S3Server } from '../../lib/testing/s3-server.js'
import { rm } from 'node:fs/promises'
import { cleanupMountpoint, patternBytes, run, spawnLong, type RunResult, type Spawned } from './fuse-env.js'
import { tensorflowFixture } from './tfrecord-fixtures.js'

export const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url))

export interface Dataset {
  server: S3Server
  /** Key → bytes, all in bucket `sluice`. */
  objects: Record<string, Uint8Array>
  env: NodeJS.ProcessEnv
  close(): Promise<void>
}

export async function startDataset(): Promise<Dataset> {
  const server = await startS3Server({ buckets: ['sluice'] })
  const objects: Record<string, Uint8Array> = {}
  for (let i = 0; i < 4; i++) objects[`ds/train/shard-${i}.bin`] = patternBytes(1 * MiB + i * 7777, 60 + i)
  objects['ds/train/sub/dir/leaf.bin'] = patternBytes(4321, 70)
  objects['ds/eval/e.bin'] = patternBytes(100_000, 71)
  objects['ds/tfrecord/mnist.tfrecord'] = new Uint8Array(await readFile(tensorflowFixture('tfx_mnist_1000.tfrecord')))
  const s3 = makeS3Client(server.s3)
  await Promise.all(Object.entries(objects).map(([Key, Body]) => s3.send(new PutObjectCommand({ Bucket: 'sluice', Key, Body }))))
  s3.destroy()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    SLUICE_CACHE_DIR: '',
  }
  return { server, objects, env, close: () => server.close() }
}

/** Runs `sluice <args>` to completion with the dataset's environment. */
export function sluice(dataset: Dataset | undefined, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return run(process.execPath, [SLUICE_BIN, ...args], { timeoutMs, env: dataset?.env ?? process.env })
}

/** Starts a long-running `sluice <args>` (mount). */
export function sluiceLong(dataset: Dataset, args: string[]): Spawned {
  return spawnLong(process.execPath, [SLUICE_BIN, ...args], dataset.env)
}

/** What a suite of CLI mount tests shares; the suite's after hook clears it. */
export interface CliFixture {
  /** Started by the suite's before hook (unless the suite is skipped). */
  dataset: Dataset | undefined
  /** Killed (SIGKILL) after the suite. */
  daemons: Spawned[]
  /** Unmounted if still mounted, and removed, after the suite. */
  mountpoints: string[]
  /** Removed after the suite. */
  dirs: string[]
}

/** Registers the before/after hooks of a CLI mount suite and returns what they share. */
export function cliFixture(suite: { before(fn: () => Promise<void>): void; after(fn: () => Promise<void>): void }, skip: string | undefined): CliFixture {
  const fx: CliFixture = { dataset: undefined, daemons: [], mountpoints: [], dirs: [] }
  suite.before(async () => {
    if (skip) return
    fx.dataset = await startDataset()
  })
  suite.after(async () => {
    for (const p of fx.daemons) p.kill('SIGKILL')
    for (const mnt of fx.mountpoints) await cleanupMountpoint(mnt)
    for (const dir of fx.dirs) await rm(dir, { recursive: true, force: true })
    await fx.dataset?.close()
  })
  return fx
}
