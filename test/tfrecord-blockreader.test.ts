/**
 * The TFRecord loader over the real BlockReader: file:// and plain paths, gzip, globs, the
 * record index stored in the cache directory, and S3 through s3rver on loopback.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, MiB, makeS3Client } from '../lib/index.js'
import { startS3Server } from '../lib/testing/s3-server.js'
import { recordAt, tfrecords, TFRecordWriter } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { equalBytes, makeRecords, withTempDir } from './support/tfrecord-fixtures.js'

const files = suite('tfrecord over BlockReader (file)')

async function writeShards(dir: string, counts: number[], compression: 'none' | 'gzip' = 'none'): Promise<Uint8Array[]> {
  const all: Uint8Array[] = []
  for (let k = 0; k < counts.length; k++) {
    const records = makeRecords(counts[k]!, [0, 10, 3000, 70_000, 200], k + 1)
    const suffix = compression === 'gzip' ? '.tfrecord.gz' : '.tfrecord'
    const w = new TFRecordWriter(join(dir, `part-${k}${suffix}`), { compression })
    for (const r of records) await w.write(r)
    await w.close()
    all.push(...records)
  }
  return all
}

files('file:// glob and plain paths, records spanning 64 KiB blocks', async () => {
  await withTempDir(async (dir) => {
    const all = await writeShards(dir, [40, 25, 31])
    const reader = new BlockReader({ memory: { maxBytes: 16 * MiB }, blockSize: 64 * KiB })
    try {
      for (const source of [pathToFileURL(dir).href + '/*.tfrecord', dir + '/part-?.tfrecord', [join(dir, 'part-0.tfrecord'), join(dir, 'part-1.tfrecord'), join(dir, 'part-2.tfrecord')]]) {
        const got: Uint8Array[] = []
        for await (const r of tfrecords(reader, source)) got.push(r)
        assert.is(got.length, all.length, String(source))
        got.forEach((r, i) => assert.ok(equalBytes(r, all[i]!), `${source} record ${i}`))
      }
    } finally {
      await reader.close()
    }
  })
})

files('gzip shards with auto detection, shuffled and resumed', async () => {
  await withTempDir(async (dir) => {
    const all = await writeShards(dir, [30, 30], 'gzip')
    const reader = new BlockReader({ memory: { maxBytes: 16 * MiB }, blockSize: 64 * KiB })
    try {
      const opts = { shuffle: { seed: 3, buffer: 8 } }
      const full: Uint8Array[] = []
      for await (const r of tfrecords(reader, dir + '/')) full.push(r)
      assert.is(full.length, all.length)
      const ds = tfrecords(reader, dir + '/', opts)
      const first: Uint8Array[] = []
      for await (const r of ds) if (first.push(r) === 17) break
      const rest: Uint8Array[] = []
      for await (const r of tfrecords(reader, dir + '/', { ...opts, resume: ds.state() })) rest.push(r)
      const again: Uint8Array[] = []
      for await (const r of tfrecords(reader, dir + '/', opts)) again.push(r)
      const joined = [...first, ...rest]
      assert.is(joined.length, again.length)
      joined.forEach((r, i) => assert.ok(equalBytes(r, again[i]!)))
    } finally {
      await reader.close()
    }
  })
})

files('record index stored under cacheDir/tfrecord-index and reused; recordAt', async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, 'data')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(data)
    const all = await writeShards(data, [50])
    const url = pathToFileURL(join(data, 'part-0.tfrecord')).href
    const cacheDir = join(dir, 'cache')
    let reader = new BlockReader({ cacheDir, memory: { maxBytes: 16 * MiB }, disk: { maxBytes: 64 * MiB }, blockSize: 64 * KiB })
    try {
      assert.ok(equalBytes(await recordAt(reader, url, 37), all[37]!))
      const indexDir = join(cacheDir, 'tfrecord-index')
      assert.ok(existsSync(indexDir))
      assert.is(readdirSync(indexDir).filter((f) => f.endsWith('.idx')).length, 1)
    } finally {
      await reader.close()
    }
    reader = new BlockReader({ cacheDir, memory: { maxBytes: 16 * MiB }, disk: { maxBytes: 64 * MiB }, blockSize: 64 * KiB })
    try {
      // the second reader finds the stored index: records-mode sharding needs no indexing pass
      const ds = tfrecords(reader, url, { shard: { index: 1, count: 3 } })
      const got: Uint8Array[] = []
      for await (const r of ds) got.push(r)
      assert.is(got.length, 17)
      got.forEach((r, i) => assert.ok(equalBytes(r, all[16 + i]!)))
    } finally {
      await reader.close()
    }
  })
})

files.run()

const s3 = suite('tfrecord over BlockReader (s3)')

// s3rver is a dependency of the project, not of the machine: failing to start it is a failure.
s3('s3:// glob through s3rver, every record verified', async () => {
  const server = await startS3Server({ buckets: ['sluice'] })
  try {
    const client = makeS3Client(server.s3)
    const shards = [makeRecords(20, [100, 5000, 0], 1), makeRecords(15, [70_000, 1], 2)]
    for (let k = 0; k < shards.length; k++) {
      await client.send(new PutObjectCommand({ Bucket: 'sluice', Key: `train/shard-${k}.tfrecord`, Body: encodeTFRecords(shards[k]!) }))
    }
    await client.send(new PutObjectCommand({ Bucket: 'sluice', Key: 'train/README', Body: 'not a shard' }))
    const reader = new BlockReader({ memory: { maxBytes: 16 * MiB }, blockSize: 64 * KiB, s3: server.s3 })
    try {
      const got: Uint8Array[] = []
      for await (const r of tfrecords(reader, 's3://sluice/train/shard-*.tfrecord')) got.push(r)
      const want = shards.flat()
      assert.is(got.length, want.length)
      got.forEach((r, i) => assert.ok(equalBytes(r, want[i]!)))
      assert.ok(equalBytes(await recordAt(reader, 's3://sluice/train/shard-1.tfrecord', 3), shards[1]![3]!))
    } finally {
      await reader.close()
      client.destroy()
    }
  } finally {
    await server.close()
  }
})

s3.run()
