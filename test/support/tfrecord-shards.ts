/**
 * Builds sets of small shards for the dataset tests: numbered records (`s<k>-<i>`) in
 * several shards, in a MemorySource read through a real BlockReader with 4 KiB blocks (the
 * smallest it takes), behind a FaultySource a test can make stall or fail, and recorded so
 * tests can see the loader's requests.
 */
import { BlockReader } from '../../lib/block-reader.js'
import type { BlockReaderOptions } from '../../lib/options.js'
import { KiB } from '../../lib/units.js'
import { FaultySource, MemorySource } from '../../lib/testing/index.js'
import type { ObjectReader } from '../../lib/types.js'
import { tfrecords, type TFRecordOptions } from '../../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../../loaders/tfrecord/writer.js'
import { RecordingReader } from './recording-reader.js'
import { numberedRecords, text } from './tfrecord-fixtures.js'

export const SHARD_BLOCK_BYTES = 4 * KiB

export interface ShardSet {
  reader: RecordingReader
  /** Where the shards are; put more objects here. */
  source: MemorySource
  /** The source the reader reads through. */
  faults: FaultySource
  urls: string[]
  /** Every record, as text, in file order. */
  all: string[]
}

/** `sizes[k]` records in shard k, at `mem://bucket/train/shard-0000k.tfrecord`. */
export function makeShards(sizes: readonly number[], options: { cacheDir?: string; pad?: number; reader?: BlockReaderOptions } = {}): ShardSet {
  const source = new MemorySource()
  const faults = new FaultySource(source)
  const reader = new RecordingReader(
    new BlockReader({
      blockSize: SHARD_BLOCK_BYTES,
      ...options.reader,
      sources: [faults],
      ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    }),
  )
  const urls: string[] = []
  const all: string[] = []
  sizes.forEach((n, k) => {
    const url = `mem://bucket/train/shard-${String(k).padStart(5, '0')}.tfrecord`
    const records = numberedRecords(n, `s${k}-`).map((r) => {
      if (!options.pad) return r
      const padded = new Uint8Array(r.length + options.pad)
      padded.set(r)
      return padded
    })
    source.put(url, encodeTFRecords(records))
    urls.push(url)
    for (const r of records) all.push(label(r))
  })
  return { reader, source, faults, urls, all }
}

/** The record's label (its text up to the first NUL of padding). */
export function label(record: Uint8Array): string {
  const t = text(record)
  const nul = t.indexOf('\0')
  return nul < 0 ? t : t.slice(0, nul)
}

export async function collect(reader: ObjectReader, source: string | string[], options: TFRecordOptions = {}): Promise<string[]> {
  const out: string[] = []
  for await (const r of tfrecords(reader, source, options)) out.push(label(r))
  return out
}
