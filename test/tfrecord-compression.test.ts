import { crc32 } from '@node-rs/crc32'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { constants, deflateRawSync, deflateSync, gunzipSync, gzipSync } from 'node:zlib'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, KiB, TFRecordCorruptionError, type ObjectReader } from '../lib/index.js'
import { MemorySource } from '../lib/testing/index.js'
import { sniffCompression, tfrecords, TFRecordWriter, type CompressionOption } from '../loaders/tfrecord/index.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { equalBytes, makeRecords, withTempDir } from './support/tfrecord-fixtures.js'

const records = makeRecords(50, [0, 1, 100, 3000, 40_000])

/** A real reader with 4 KiB blocks (records up to 40 KB span them) over files and `mem://`. */
function memReader(): { reader: BlockReader; source: MemorySource } {
  const source = new MemorySource()
  return { reader: new BlockReader({ blockSize: 4 * KiB, sources: [source] }), source }
}

async function readAll(reader: ObjectReader, url: string, compression: CompressionOption = 'auto'): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const r of tfrecords(reader, url, { compression })) out.push(r)
  return out
}

function assertSame(got: Uint8Array[], want: Uint8Array[], what: string): void {
  assert.is(got.length, want.length, what)
  got.forEach((r, i) => assert.ok(equalBytes(r, want[i]!), `${what}: record ${i}`))
}

test('writer → reader round trip for none, gzip and zlib, to a path and to a stream', async () => {
  await withTempDir(async (dir) => {
    const { reader } = memReader()
    for (const compression of ['none', 'gzip', 'zlib'] as const) {
      const path = join(dir, `data-${compression}`) // no suffix: auto must sniff
      const w = new TFRecordWriter(path, { compression })
      for (const r of records) await w.write(r)
      await w.close()
      assert.is(w.records, records.length)
      assertSame(await readAll(reader, path), records, `${compression} auto`)
      assertSame(await readAll(reader, path, compression), records, `${compression} explicit`)
      // the same through a Writable
      const sink = new PassThrough()
      const parts: Buffer[] = []
      sink.on('data', (b: Buffer) => parts.push(b))
      const ws = new TFRecordWriter(sink, { compression })
      for (const r of records) await ws.write(r)
      await ws.close()
      assert.ok(Buffer.concat(parts).equals(await readFile(path)), `${compression}: stream and file output agree`)
    }
    await reader.close()
  })
})

test('multi-member gzip (records spanning members) reads as one stream', async () => {
  const raw = encodeTFRecords(records)
  const cut1 = 12345
  const cut2 = 50_000
  const multi = Buffer.concat([gzipSync(raw.subarray(0, cut1)), gzipSync(raw.subarray(cut1, cut2)), gzipSync(raw.subarray(cut2))])
  const { reader, source } = memReader()
  source.put('mem://g/multi.tfrecord.gz', multi)
  assertSame(await readAll(reader, 'mem://g/multi.tfrecord.gz'), records, 'multi-member')
})

test('gzip header with a stored file name (as gzip(1) writes it)', async () => {
  const raw = encodeTFRecords(records.slice(0, 10))
  const name = Buffer.from('train-00000.tfrecord\0', 'latin1')
  const header = Buffer.from([0x1f, 0x8b, 8, 0x08 /* FNAME */, 0, 0, 0, 0, 0, 3])
  const trailer = Buffer.alloc(8)
  trailer.writeUInt32LE(crc32(raw), 0)
  trailer.writeUInt32LE(raw.length, 4)
  const file = Buffer.concat([header, name, deflateRawSync(raw), trailer])
  const { reader, source } = memReader()
  source.put('mem://g/named', file)
  assertSame(await readAll(reader, 'mem://g/named'), records.slice(0, 10), 'FNAME')
})

test('auto trusts content over names', () => {
  const raw = encodeTFRecords(records.slice(0, 3))
  assert.is(sniffCompression(raw, 'x.tfrecord.gz'), 'none', 'uncompressed file named .gz')
  assert.is(sniffCompression(gzipSync(raw), 'x.tfrecord'), 'gzip')
  assert.is(sniffCompression(deflateSync(raw), 'x'), 'zlib')
  assert.is(sniffCompression(new Uint8Array(0), 'x.gz'), 'gzip', 'too short: the suffix decides')
})

test('truncated and damaged compressed shards: error with offset, or skip and count', async () => {
  const raw = encodeTFRecords(records)
  const starts: number[] = []
  for (let i = 0, at = 0; i <= records.length; at += (records[i]?.length ?? 0) + 16, i++) starts.push(at)
  const gz = gzipSync(raw)
  const { reader, source } = memReader()
  const truncated = gz.subarray(0, Math.floor(gz.length / 2))
  source.put('mem://g/trunc.gz', truncated)
  const damaged = Buffer.from(gz)
  damaged[Math.floor(gz.length / 2)] = damaged[Math.floor(gz.length / 2)]! ^ 0xff
  source.put('mem://g/damaged.gz', damaged)
  // How far the truncated stream can be inflated at all: no error may point past it.
  const inflatable = gunzipSync(truncated, { finishFlush: constants.Z_SYNC_FLUSH }).length
  const cases = [
    { url: 'mem://g/trunc.gz', checks: ['truncated'], limit: inflatable },
    { url: 'mem://g/damaged.gz', checks: ['decompression', 'data-crc', 'length-crc'], limit: raw.length },
  ]
  for (const { url, checks, limit } of cases) {
    const got: Uint8Array[] = []
    try {
      for await (const r of tfrecords(reader, url)) got.push(r)
      assert.unreachable(url)
    } catch (err) {
      assert.instance(err, TFRecordCorruptionError, url)
      const e = err as TFRecordCorruptionError
      assert.ok(checks.includes(e.check), `${url}: ${e.check}`)
      assert.match(e.message, url)
      assert.match(e.message, `at byte ${e.offset}:`)
      // The offset is in the inflated stream, inside the first record that was not delivered.
      const next = got.length
      assert.ok(next > 0 && next < records.length, `${url}: ${next} records before the damage`)
      assert.ok(e.offset >= starts[next]! && e.offset < starts[next + 1]! && e.offset <= limit,
        `${url}: offset ${e.offset} should lie in record ${next} [${starts[next]}, ${starts[next + 1]}) and not past ${limit}`)
      if (e.check === 'data-crc' || e.check === 'length-crc') assert.is(e.offset, starts[next], `${url}: a CRC error points at its record's start`)
    }
    got.forEach((r, i) => assert.ok(equalBytes(r, records[i]!), `${url}: good prefix`))
    const ds = tfrecords(reader, url, { onCorrupt: 'skip' })
    const skipped: Uint8Array[] = []
    for await (const r of ds) skipped.push(r)
    assert.ok(ds.stats().corruptSkipped >= 1, url)
    assert.ok(skipped.length >= got.length)
    got.forEach((r, i) => assert.ok(equalBytes(skipped[i]!, r), `${url}: skip mode delivers the same good prefix`))
  }
})

test.run()
