/**
 * A tampered record index never yields wrong records (docs/security.md). Indexes are stored
 * by a real BlockReader in its cache directory for TFRecord shards on disk; the test then
 * damages or forges the index file and opens the shard with a fresh reader (indexes are
 * memoised per reader). A file that fails its checksum, names another object, or describes
 * records that cannot exist is ignored and built again; one forged to pass all of that still
 * cannot make `recordAt` return anything but a whole record framed at the offset it names.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BlockReader, KiB, MiB } from '../lib/index.js'
import { encodeTFRecords, recordAt, recordIndex } from '../loaders/tfrecord/index.js'
import { patternBytes } from './support/data.js'
import { withTempDir } from './support/tfrecord-fixtures.js'

const RECORDS = [100, 200, 300, 400, 500, 600].map((n) => patternBytes(n, `record-${n}`))
const OTHER_RECORDS = [700, 50, 50].map((n, i) => patternBytes(n, `other-${i}`))

interface Fixture {
  cacheDir: string
  url: string
  otherUrl: string
  /** The stored index file of `url` and of `otherUrl`. */
  index: string
  otherIndex: string
}

/** Two shards, their indexes built and stored by a reader on a fresh cache directory. */
function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    const cacheDir = join(dir, 'cache')
    await writeFile(join(dir, 'a.tfrecord'), encodeTFRecords(RECORDS))
    await writeFile(join(dir, 'b.tfrecord'), encodeTFRecords(OTHER_RECORDS))
    const url = pathToFileURL(join(dir, 'a.tfrecord')).href
    const otherUrl = pathToFileURL(join(dir, 'b.tfrecord')).href
    const indexDir = join(cacheDir, 'tfrecord-index')
    const built = async (u: string, known: string[]) => {
      await withReader(cacheDir, (r) => recordIndex(r, u))
      return join(indexDir, (await readdir(indexDir)).find((f) => f.endsWith('.idx') && !known.includes(join(indexDir, f)))!)
    }
    const index = await built(url, [])
    const otherIndex = await built(otherUrl, [index])
    await fn({ cacheDir, url, otherUrl, index, otherIndex })
  })
}

async function withReader<T>(cacheDir: string, fn: (reader: BlockReader) => Promise<T>): Promise<T> {
  const reader = new BlockReader({ cacheDir, memory: { maxBytes: 4 * MiB }, disk: { maxBytes: 64 * MiB }, blockSize: 4 * KiB })
  try {
    return await fn(reader)
  } finally {
    await reader.close()
  }
}

/** The stored layout: magic | header length u32 | header JSON | pad to 8 | offsets | lengths | SHA-256. */
interface IndexFile {
  header: Record<string, unknown>
  offsets: number[]
  lengths: number[]
}

async function readIndex(path: string): Promise<IndexFile> {
  const buf = await readFile(path)
  const headerLength = buf.readUInt32LE(8)
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength)) as Record<string, unknown>
  const dataStart = Math.ceil((12 + headerLength) / 8) * 8
  const n = header.count as number
  const at = (i: number) => buf.readDoubleLE(dataStart + 8 * i)
  return { header, offsets: Array.from({ length: n }, (_, i) => at(i)), lengths: Array.from({ length: n }, (_, i) => at(n + i)) }
}

/** Writes `index` in the stored layout with a checksum that matches: a forgery, not damage. */
async function forgeIndex(path: string, index: IndexFile): Promise<void> {
  const header = Buffer.from(JSON.stringify({ ...index.header, count: index.offsets.length }))
  const dataStart = Math.ceil((12 + header.length) / 8) * 8
  const n = index.offsets.length
  const body = Buffer.alloc(dataStart + 16 * n)
  body.write(await readFile(path, 'latin1').then((s) => s.slice(0, 8)), 0, 'latin1')
  body.writeUInt32LE(header.length, 8)
  header.copy(body, 12)
  index.offsets.forEach((o, i) => body.writeDoubleLE(o, dataStart + 8 * i))
  index.lengths.forEach((l, i) => body.writeDoubleLE(l, dataStart + 8 * (n + i)))
  await writeFile(path, Buffer.concat([body, createHash('sha256').update(body).digest()]))
}

/** Opens `url`'s index with a fresh reader: whether it was rebuilt, and every record by recordAt. */
async function readBack(f: Fixture): Promise<{ rebuilt: boolean; records: Uint8Array[] }> {
  return withReader(f.cacheDir, async (reader) => {
    let rebuilt = false
    const index = await recordIndex(reader, f.url, { onBuild: () => (rebuilt = true) })
    const records: Uint8Array[] = []
    for (let i = 0; i < index.offsets.length; i++) records.push(await recordAt(reader, f.url, i))
    return { rebuilt, records }
  })
}

function assertRecords(records: Uint8Array[]): void {
  assert.is(records.length, RECORDS.length)
  records.forEach((r, i) => assert.ok(Buffer.from(r).equals(RECORDS[i]!), `record ${i} is the shard's record ${i}`))
}

/** The stored index was not used (it was built again), and every record came out right. */
async function assertRebuilt(f: Fixture, what: string): Promise<void> {
  const { rebuilt, records } = await readBack(f)
  assert.ok(rebuilt, `${what} was used`)
  assertRecords(records)
}

test('an untouched stored index is used as it is (the baseline)', async () => {
  await withFixture(async (f) => {
    const { rebuilt, records } = await readBack(f)
    assert.not.ok(rebuilt)
    assertRecords(records)
  })
})

test('a damaged index (one changed value, checksum not redone) is rebuilt: the right records, no error', async () => {
  await withFixture(async (f) => {
    const buf = await readFile(f.index)
    // The last record's length, one less: in order and inside the object, so only the
    // checksum tells; read as it is, the last record would fail its framing check.
    const last = buf.length - 32 - 8
    buf.writeDoubleLE(buf.readDoubleLE(last) - 1, last)
    await writeFile(f.index, buf)
    await assertRebuilt(f, 'the damaged index')
  })
})

test('a forged index with its records out of order is rebuilt: record 0 is never record 1', async () => {
  await withFixture(async (f) => {
    const index = await readIndex(f.index)
    ;[index.offsets[0], index.offsets[1]] = [index.offsets[1]!, index.offsets[0]!]
    ;[index.lengths[0], index.lengths[1]] = [index.lengths[1]!, index.lengths[0]!]
    await forgeIndex(f.index, index)
    await assertRebuilt(f, 'the reordered index')
  })
})

test('a forged index with overlapping records, or records past the end of the object, is rebuilt', async () => {
  await withFixture(async (f) => {
    const original = await readIndex(f.index)
    const overlapping = structuredClone(original)
    overlapping.lengths[2]! += 1
    await forgeIndex(f.index, overlapping)
    await assertRebuilt(f, 'an index of overlapping records')
    const past = structuredClone(original)
    past.offsets.push(original.header.size as number)
    past.lengths.push(0)
    await forgeIndex(f.index, past)
    await assertRebuilt(f, 'an index with a record past the end')
  })
})

test("another object's index in this one's place, or a truncated file, is rebuilt", async () => {
  await withFixture(async (f) => {
    await copyFile(f.otherIndex, f.index)
    await assertRebuilt(f, "the other object's index")
    const buf = await readFile(f.index)
    await writeFile(f.index, buf.subarray(0, buf.length - 40))
    await assertRebuilt(f, 'the truncated index')
  })
})

test('an index forged to pass every check still yields only whole records at their offsets, or an error', async () => {
  await withFixture(async (f) => {
    const index = await readIndex(f.index)
    // Record 2 moved 4 bytes on and 4 shorter: in order, inside, checksum right.
    index.offsets[2]! += 4
    index.lengths[2]! -= 4
    await forgeIndex(f.index, index)
    await withReader(f.cacheDir, async (reader) => {
      let rebuilt = false
      await recordIndex(reader, f.url, { onBuild: () => (rebuilt = true) })
      assert.not.ok(rebuilt, 'the forgery is loaded: what it says is checked when a record is read')
      assert.ok(Buffer.from(await recordAt(reader, f.url, 1)).equals(RECORDS[1]!), 'records it did not move are right')
      // With CRCs checked, and without them (`verify: false`), where the length in the
      // record's own header is what stands between the forgery and wrong bytes.
      for (const [verify, pattern] of [[true, /length-crc check failed/], [false, /index says 296 bytes, record header says \d+/]] as const) {
        try {
          const got = await recordAt(reader, f.url, 2, { verify })
          assert.unreachable(`record 2 returned ${got.length} bytes (verify: ${verify})`)
        } catch (err) {
          assert.is((err as { code?: string }).code, 'ERR_SLUICE_TFRECORD_CORRUPT', String(err))
          assert.match((err as Error).message, pattern)
        }
      }
    })
  })
})

test.run()
