/**
 * TFRecord shards in a real S3 server (s3rver on loopback) for the loader's state tests: numbered,
 * padded records (`s<k>-<i>`, so every record of a dataset is told apart by its label) written
 * by the project's writer, some of them gzip, and a real BlockReader to read them.
 */
import { Writable } from 'node:stream'
import { BlockReader } from '../../lib/block-reader.js'
import { KiB, MiB } from '../../lib/units.js'
import { TFRecordWriter } from '../../loaders/tfrecord/index.js'
import type { TestS3 } from './s3.js'
import { numberedRecords } from './tfrecord-fixtures.js'
import { label } from './tfrecord-shards.js'

/** Framed records of about 320 bytes: a shard of 20 spans two 4 KiB blocks. */
const PAD = 300

export interface ShardSpec {
  records: number
  gzip?: boolean
}

/**
 * Writes `specs[k]` as `s3://<bucket>/<prefix>shard-<k>.tfrecord[.gz]`; returns the labels of
 * every record, shard by shard in file order.
 */
export async function putShards(s3: TestS3, bucket: string, prefix: string, specs: readonly ShardSpec[]): Promise<string[]> {
  const labels: string[] = []
  for (let k = 0; k < specs.length; k++) {
    const { records: n, gzip = false } = specs[k]!
    const parts: Buffer[] = []
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        parts.push(chunk)
        done()
      },
    })
    const writer = new TFRecordWriter(sink, { compression: gzip ? 'gzip' : 'none' })
    for (const r of numberedRecords(n, `s${k}-`)) {
      const padded = new Uint8Array(r.length + PAD)
      padded.set(r)
      await writer.write(padded)
      labels.push(label(r))
    }
    await writer.close()
    await s3.put(bucket, `${prefix}shard-${k}.tfrecord${gzip ? '.gz' : ''}`, Buffer.concat(parts))
  }
  return labels
}

/** A real BlockReader over the test server: 4 KiB blocks, memory tier only. */
export function s3Reader(s3: TestS3): BlockReader {
  return new BlockReader({ blockSize: 4 * KiB, memory: { maxBytes: 16 * MiB }, s3: s3.server.s3 })
}
