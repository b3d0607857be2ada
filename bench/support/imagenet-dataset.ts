/**
 * The benchmark's dataset: ImageNet-like TFRecord shards, written to local files (for the
 * local-limit baseline and the page-cache comparison) and put into the S3 server directly,
 * not through the remote-store model (uploading is setup, not measurement).
 *
 * Each record is a `tf.train.Example` shaped like the ImageNet preprocessing scripts' output:
 * an encoded image (incompressible bytes, log-normal size with a mean of about 110 KB, as
 * JPEGs of ImageNet are), its format, a class label, height and width, a filename and one
 * bounding box as four floats. Sizes vary so records straddle block boundaries at every
 * offset. Everything is deterministic per (seed, shard, record).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeExample, encodeTFRecords } from '../../loaders/tfrecord/index.js'
import { generatedBytes } from '../../examples/dataset.js'
import { seededRandom as rng } from '../../lib/testing/seeded-random.js'

export interface DatasetSpec {
  shards: number
  /** Target size of each shard in bytes (records are added until it is reached). */
  shardBytes: number
  /** Mean encoded-image size in bytes. Default 110 000. */
  meanImageBytes?: number
  seed?: number
}

export interface Shard {
  key: string
  url: string
  path: string
  bytes: number
  records: number
}

export interface Dataset {
  bucket: string
  prefix: string
  shards: Shard[]
  bytes: number
  records: number
}


/** Log-normal with sigma 0.5, so the mean is median * e^(0.125); clamped to [8 KB, 1 MB]. */
function imageSize(random: () => number, mean: number): number {
  const sigma = 0.5
  const median = mean / Math.exp((sigma * sigma) / 2)
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  return Math.max(8_000, Math.min(1_000_000, Math.round(median * Math.exp(sigma * z))))
}

/** Generates one shard's records: image bytes are slices of one incompressible pool. */
export function imagenetShard(shard: number, shardBytes: number, meanImageBytes = 110_000, seed = 1): { data: Uint8Array; records: number } {
  const random = rng(seed * 1_000_003 + shard)
  const pool = generatedBytes(4 * 1024 * 1024, `imagenet-pool-${seed}`)
  const records: Uint8Array[] = []
  let bytes = 0
  while (bytes < shardBytes) {
    const i = records.length
    const size = imageSize(random, meanImageBytes)
    const at = Math.floor(random() * (pool.length - size))
    const label = Math.floor(random() * 1000)
    const x = random() * 0.5
    const y = random() * 0.5
    const record = encodeExample({
      'image/encoded': [pool.subarray(at, at + size)],
      'image/format': ['JPEG'],
      'image/class/label': { kind: 'int64', value: [label] },
      'image/height': { kind: 'int64', value: [200 + Math.floor(random() * 300)] },
      'image/width': { kind: 'int64', value: [200 + Math.floor(random() * 300)] },
      'image/filename': [`n${String(label).padStart(8, '0')}_${shard}_${i}.JPEG`],
      'image/object/bbox/xmin': { kind: 'float', value: [x] },
      'image/object/bbox/ymin': { kind: 'float', value: [y] },
      'image/object/bbox/xmax': { kind: 'float', value: [x + 0.5] },
      'image/object/bbox/ymax': { kind: 'float', value: [y + 0.5] },
    })
    records.push(record)
    bytes += record.length + 16 // TFRecord framing: length, its CRC, the data's CRC
  }
  return { data: encodeTFRecords(records), records: records.length }
}

/** Writes the shards under `localDir` and puts them into `bucket` under `prefix`. */
export async function createDataset(
  client: S3Client,
  bucket: string,
  prefix: string,
  localDir: string,
  spec: DatasetSpec,
  onShard?: (done: number, total: number) => void,
): Promise<Dataset> {
  await mkdir(localDir, { recursive: true })
  const shards: Shard[] = []
  for (let s = 0; s < spec.shards; s++) {
    const { data, records } = imagenetShard(s, spec.shardBytes, spec.meanImageBytes, spec.seed)
    const name = `train-${String(s).padStart(5, '0')}-of-${String(spec.shards).padStart(5, '0')}.tfrecord`
    const key = `${prefix}${name}`
    const path = join(localDir, name)
    await writeFile(path, data)
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }))
    shards.push({ key, url: `s3://${bucket}/${key}`, path, bytes: data.length, records })
    onShard?.(s + 1, spec.shards)
  }
  return {
    bucket,
    prefix,
    shards,
    bytes: shards.reduce((a, s) => a + s.bytes, 0),
    records: shards.reduce((a, s) => a + s.records, 0),
  }
}
