import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { importDaliIndex, parseDaliIndex, recordAt, recordIndex, tfrecords, toDaliIndex } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { errorLike } from './support/expect-error.js'
import { equalBytes, makeRecords, withTempDir } from './support/tfrecord-fixtures.js'
import { BlockReader, KiB } from '../lib/index.js'
import { MemorySource } from '../lib/testing/index.js'
import { RecordingReader } from './support/recording-reader.js'

const records = makeRecords(40, [0, 5, 300, 9000])
const bytes = encodeTFRecords(records)
const URL_ = 'mem://idx/a.tfrecord'

/** A real reader with 4 KiB blocks over `mem://`, recording the loader's requests. */
function memReader(cacheDir?: string): { reader: RecordingReader; source: MemorySource } {
  const source = new MemorySource()
  const reader = new RecordingReader(new BlockReader({ blockSize: 4 * KiB, sources: [source], ...(cacheDir === undefined ? {} : { cacheDir }) }))
  return { reader, source }
}

test('one pass gives every offset and length; DALI text round trip', async () => {
  const { reader, source } = memReader()
  source.put(URL_, bytes)
  const index = await recordIndex(reader, URL_)
  assert.is(index.offsets.length, records.length)
  let off = 0
  records.forEach((r, i) => {
    assert.is(index.offsets[i], off)
    assert.is(index.lengths[i], r.length)
    off += r.length + 16
  })
  const dali = toDaliIndex(index)
  assert.is(dali.split('\n')[1], `16 21`)
  const parsed = parseDaliIndex(dali, { url: URL_, size: bytes.length, version: index.version })
  assert.equal(Array.from(parsed.offsets), Array.from(index.offsets))
  assert.throws(() => parseDaliIndex('0 10\n', { url: URL_, size: 100, version: 'v' }), /smaller than the 16 framing bytes/)
  assert.throws(() => parseDaliIndex('0 x\n', { url: URL_, size: 100, version: 'v' }), errorLike(RangeError, /DALI index line 1: expected "offset size", got "0 x"/))
  assert.throws(() => parseDaliIndex('90 20\n', { url: URL_, size: 100, version: 'v' }), /past the object/)
})

test('recordAt reads one record with one ranged read; imported DALI index skips the pass', async () => {
  const { reader, source } = memReader()
  source.put(URL_, bytes)
  const offsets: number[] = []
  let off = 0
  for (const r of records) {
    offsets.push(off)
    off += r.length + 16
  }
  await importDaliIndex(reader, URL_, records.map((r, i) => `${offsets[i]} ${r.length + 16}`).join('\n'))
  reader.log.reads.length = 0
  reader.log.chunkCalls.length = 0
  for (const i of [0, 17, 39]) assert.ok(equalBytes(await recordAt(reader, URL_, i), records[i]!))
  assert.is(reader.log.chunkCalls.length, 0, 'no indexing pass')
  assert.equal(reader.log.reads.map((r) => r.position), [offsets[0], offsets[17], offsets[39]])
  try {
    await recordAt(reader, URL_, 40)
    assert.unreachable()
  } catch (err) {
    assert.instance(err, RangeError)
  }
  const ds = tfrecords(reader, URL_)
  assert.ok(equalBytes(await ds.recordAt(URL_, 3), records[3]!))
})

test('indexes persist in cacheDir keyed by URL and version; a changed object gets a new one', async () => {
  await withTempDir(async (cacheDir) => {
    const { reader: first, source: firstSource } = memReader(cacheDir)
    firstSource.put(URL_, bytes)
    await recordIndex(first, URL_)
    await first.close()
    const dir = join(cacheDir, 'tfrecord-index')
    assert.ok(existsSync(dir))
    assert.is(readdirSync(dir).length, 1)
    // a new process (reader) with the same cache dir loads it without reading the shard
    const { reader: second, source } = memReader(cacheDir)
    source.put(URL_, bytes) // the same bytes at the same version (v1)
    const index = await recordIndex(second, URL_)
    assert.is(index.offsets.length, records.length)
    assert.is(second.log.chunkCalls.length, 0)
    // the object changes: a new version, a new index
    source.put(URL_, encodeTFRecords(records.slice(0, 5)))
    const changed = await recordIndex(second, URL_)
    assert.is(changed.offsets.length, 5)
    assert.is(readdirSync(dir).filter((f) => f.endsWith('.idx')).length, 2)
    await second.close()
  })
})

test('compressed shards index (inflated offsets) and recordAt streams to the record', async () => {
  const { reader, source } = memReader()
  source.put('mem://idx/b.tfrecord.gz', gzipSync(bytes))
  const index = await recordIndex(reader, 'mem://idx/b.tfrecord.gz')
  assert.is(index.compression, 'gzip')
  assert.is(index.offsets.length, records.length)
  assert.ok(equalBytes(await recordAt(reader, 'mem://idx/b.tfrecord.gz', 21), records[21]!))
})

test('concurrent requests share one build', async () => {
  const { reader, source } = memReader()
  source.put(URL_, bytes)
  await Promise.all([recordIndex(reader, URL_), recordIndex(reader, URL_), recordIndex(reader, URL_)])
  assert.is(reader.log.chunkCalls.length, 1)
})

test('records-mode sharding builds each index once and counts it in stats', async () => {
  const { reader, source } = memReader()
  source.put(URL_, bytes)
  const ds = tfrecords(reader, URL_, { shard: { index: 1, count: 4 } })
  let n = 0
  for await (const _ of ds) n++
  assert.is(n, 10)
  assert.is(ds.stats().indexesBuilt, 1)
  const again = tfrecords(reader, URL_, { shard: { index: 2, count: 4 } })
  for await (const _ of again) n++
  assert.is(again.stats().indexesBuilt, 0, 'reused from memory')
})

test.run()
