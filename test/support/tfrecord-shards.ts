/**
 * Builds sets of small shards for the dataset tests: numbered records (`s<k>-<i>`) in
 * several shards, stored in a ReaderDouble with a small chunk size so records span chunks.
 */
import { tfrecords, type TFRecordOptions } from '../../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../../loaders/tfrecord/writer.js'
import { ReaderDouble } from './tfrecord-reader-double.js'
import { numberedRecords, text } from './tfrecord-fixtures.js'

export interface ShardSet {
  reader: ReaderDouble
  urls: string[]
  /** Every record, as text, in file order. */
  all: string[]
}

/** `sizes[k]` records in shard k, at `mem://bucket/train/shard-0000k.tfrecord`. */
export function makeShards(sizes: readonly number[], options: { chunkBytes?: number; cacheDir?: string; pad?: number } = {}): ShardSet {
  const reader = new ReaderDouble({ chunkBytes: options.chunkBytes ?? 97, cacheDir: options.cacheDir })
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
    reader.put(url, encodeTFRecords(records))
    urls.push(url)
    for (const r of records) all.push(label(r))
  })
  return { reader, urls, all }
}

/** The record's label (its text up to the first NUL of padding). */
export function label(record: Uint8Array): string {
  const t = text(record)
  const nul = t.indexOf('\0')
  return nul < 0 ? t : t.slice(0, nul)
}

export async function collect(reader: ReaderDouble, source: string | string[], options: TFRecordOptions = {}): Promise<string[]> {
  const out: string[] = []
  for await (const r of tfrecords(reader, source, options)) out.push(label(r))
  return out
}
