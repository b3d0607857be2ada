/**
 * The three yardsticks every scenario is compared with, run in the same process on the same
 * shards:
 *
 * - `sdkSequential`: what a reader without sluice does: one plain GetObject per shard, in
 *   order, streaming the body (AWS SDK v3), through the remote-store model;
 * - `parallelRanged`: a reader tuned only for throughput: many ranged GETs in flight across
 *   all shards at once, bodies counted and dropped, through the model. No cache, no
 *   verification, no record order: the network limit a cache can approach, not exceed;
 * - `localPageCacheCrc`: the shards as local files, warm in the page cache, read in 4 MiB
 *   pieces with CRC32C over every byte: the local limit for verified reads.
 *
 * Each is timed by the same epoch consumer as the scenarios (items are byte chunks here).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { crc32c } from '@node-rs/crc32'
import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import type { Dataset } from './imagenet-dataset.js'
import type { RemoteStoreModel } from './link-model.js'

const READ_BYTES = 4 * 1024 * 1024

export async function* sdkSequential(client: S3Client, ds: Dataset): AsyncGenerator<Uint8Array> {
  for (const s of ds.shards) {
    const res = await client.send(new GetObjectCommand({ Bucket: ds.bucket, Key: s.key }))
    for await (const chunk of res.Body as Readable) yield chunk as Buffer
  }
}

/**
 * Requests at once for the ranged reader: enough connections to fill the link with each
 * capped at its own rate, plus as many again to hide the first-byte latency of the next
 * range, never fewer than 8.
 */
export function rangedConcurrencyFor(model: RemoteStoreModel, rangeBytes: number): number {
  const connectionsForLink = Math.ceil(model.aggregateBytesPerSecond / model.connectionBytesPerSecond)
  const transferMs = (rangeBytes / model.connectionBytesPerSecond) * 1000
  const latencyFactor = 1 + model.firstByteLatencyMs / Math.max(1, transferMs)
  return Math.max(8, Math.ceil(connectionsForLink * latencyFactor) * 2)
}

/** Yields bodies' chunks as they arrive from `concurrency` ranged GETs in flight. */
export async function* parallelRanged(client: S3Client, ds: Dataset, concurrency: number, rangeBytes: number): AsyncGenerator<Uint8Array> {
  const ranges: { key: string; start: number; end: number }[] = []
  for (const s of ds.shards) for (let p = 0; p < s.bytes; p += rangeBytes) ranges.push({ key: s.key, start: p, end: Math.min(s.bytes, p + rangeBytes) - 1 })
  // Workers push chunks into a queue the generator drains; the generator wakes on each push.
  const queue: Uint8Array[] = []
  let wake: (() => void) | undefined
  let failure: unknown
  let active = concurrency
  const worker = async () => {
    try {
      for (let r = ranges.shift(); r; r = ranges.shift()) {
        const res = await client.send(new GetObjectCommand({ Bucket: ds.bucket, Key: r.key, Range: `bytes=${r.start}-${r.end}` }))
        for await (const chunk of res.Body as Readable) {
          queue.push(chunk as Buffer)
          wake?.()
        }
      }
    } catch (err) {
      failure ??= err
    } finally {
      active--
      wake?.()
    }
  }
  for (let i = 0; i < concurrency; i++) void worker()
  for (;;) {
    while (queue.length > 0) yield queue.shift()!
    if (failure) throw failure
    if (active === 0) return
    await new Promise<void>((resolve) => (wake = resolve))
    wake = undefined
  }
}

export async function* localPageCacheCrc(ds: Dataset): AsyncGenerator<Uint8Array> {
  const buf = Buffer.allocUnsafe(READ_BYTES)
  let crc = 0
  for (const s of ds.shards) {
    const fh = await open(s.path, 'r')
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, READ_BYTES, null)
        if (bytesRead === 0) break
        crc ^= crc32c(buf.subarray(0, bytesRead))
        yield buf.subarray(0, bytesRead)
      }
    } finally {
      await fh.close()
    }
  }
  if (crc === -1) console.log('') // keeps the CRC live so it cannot be optimised away
}
