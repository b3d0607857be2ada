/**
 * BlockReader end to end over real parts: s3rver on loopback, LMDB in temp dirs. Covers the
 * randomized reference comparison, the request counts the cache promises, version pinning,
 * singleflight and coalescing, prefetch, preload and evict, and option errors.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { BlockReader, MemorySource, KiB, MiB, type BlockReaderOptions } from '../lib/index.js'
import { chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { patternBytes, prng } from './support/data.js'
import { startTestS3, type TestS3 } from './support/s3.js'
import { waitFor } from './support/wait.js'

let s3: TestS3
let dir: string
const OBJECT = patternBytes(3 * MiB + 12_345, 'reader')
const test = suite('BlockReader')

test.before(async () => {
  s3 = await startTestS3(['data'])
  dir = await mkdtemp(join(tmpdir(), 'sluice-reader-'))
  await s3.put('data', 'obj', OBJECT)
  await s3.put('data', 'empty', new Uint8Array(0))
})
test.after(async () => {
  await s3.close()
  await rm(dir, { recursive: true, force: true })
})

let dirCount = 0
const cacheDir = () => join(dir, `cache-${dirCount++}`)
const reader = (extra: BlockReaderOptions = {}) => new BlockReader({ s3: s3.server.s3, ...extra })

const setups: [string, () => BlockReaderOptions][] = [
  ['memory only, 64 KiB blocks', () => ({ blockSize: 64 * KiB })],
  ['disk only, 100 KiB blocks', () => ({ blockSize: 100 * KiB, memory: { maxBytes: 0 }, cacheDir: cacheDir() })],
  ['memory + disk, 1 MiB blocks, worker threads', () => ({ blockSize: 1 * MiB, memory: { maxBytes: 2 * MiB }, cacheDir: cacheDir(), prefetch: { threads: 1 } })],
  ['tiny memory + disk, 4 KiB blocks', () => ({ blockSize: 4 * KiB, memory: { maxBytes: 64 * KiB }, cacheDir: cacheDir(), prefetch: { coalesceBytes: 64 * KiB } })],
]

for (const [name, options] of setups) {
  test(`random ranges match the object byte for byte (${name})`, async () => {
    const r = reader(options())
    const h = await r.open('s3://data/obj')
    const rand = prng(name.length)
    for (let i = 0; i < 60; i++) {
      const pos = Math.floor(rand() * (OBJECT.length + 1000))
      const len = Math.floor(rand() * (rand() < 0.2 ? 1.5 * MiB : 70_000))
      const expected = OBJECT.subarray(Math.min(pos, OBJECT.length), Math.min(OBJECT.length, pos + len))
      if (i % 2 === 0) {
        const got = await h.read(pos, len)
        assert.ok(Buffer.from(got).equals(expected), `read(${pos}, ${len})`)
      } else {
        const target = Buffer.alloc(len + 7)
        const n = await h.readInto(target, 7, pos, len)
        assert.is(n, expected.length)
        assert.ok(target.subarray(7, 7 + n).equals(expected), `readInto(${pos}, ${len})`)
      }
    }
    const chunks: Buffer[] = []
    for await (const c of h.chunks()) chunks.push(Buffer.from(c))
    assert.ok(Buffer.concat(chunks).equals(OBJECT), 'chunks() yields the whole object')
    await r.close()
  })
}

test('a second read of the same range costs zero source requests', async () => {
  const r = reader({ blockSize: 256 * KiB })
  const h = await r.open('s3://data/obj')
  await h.read(1000, 600_000)
  const before = r.stats().source
  const again = await h.read(1000, 600_000)
  assert.ok(Buffer.from(again).equals(OBJECT.subarray(1000, 601_000)))
  assert.equal(r.stats().source, before)
  await r.close()
})

test('a new reader on the same cacheDir serves from disk with zero GETs', async () => {
  const dirPath = cacheDir()
  const first = reader({ cacheDir: dirPath, blockSize: 512 * KiB })
  const h1 = await first.open('s3://data/obj')
  await h1.read(0, OBJECT.length)
  await first.close()
  const second = reader({ cacheDir: dirPath, blockSize: 512 * KiB })
  const h2 = await second.open('s3://data/obj')
  const got = await h2.read(0, OBJECT.length)
  assert.ok(Buffer.from(got).equals(OBJECT))
  const s = second.stats()
  assert.is(s.source.gets, 0, 'no GETs')
  assert.is(s.source.bytes, 0, 'no bytes from the source')
  assert.is(s.tiers.find((t) => t.name === 'disk')!.hits, Math.ceil(OBJECT.length / (512 * KiB)))
  // Opening with a known ObjectInfo needs no request at all.
  const viaInfo = await second.open(h2.info)
  await viaInfo.read(0, 10)
  assert.is(second.stats().source.requests, 1, 'only the first open asked the store')
  await second.close()
})

test('a byte flipped in the disk tier is never served: the reader refetches and returns the right bytes', async () => {
  const dirPath = cacheDir()
  const first = reader({ cacheDir: dirPath, blockSize: 512 * KiB, memory: { maxBytes: 0 } })
  await (await first.open('s3://data/obj')).read(0, OBJECT.length)
  await first.close()
  const file = join(dirPath, 'data.mdb')
  const raw = await readFile(file)
  const at = raw.indexOf(OBJECT.subarray(600 * KiB, 600 * KiB + 64))
  assert.ok(at > 0, 'the block is in the file')
  raw[at + 7] = raw[at + 7]! ^ 0x20
  await writeFile(file, raw)
  const second = reader({ cacheDir: dirPath, blockSize: 512 * KiB, memory: { maxBytes: 0 } })
  const got = await (await second.open('s3://data/obj')).read(0, OBJECT.length)
  assert.ok(Buffer.from(got).equals(OBJECT), 'the right bytes, not the flipped ones')
  const s = second.stats()
  assert.is(s.source.gets, 1, 'only the corrupt block was fetched again')
  assert.is(s.source.bytes, 512 * KiB)
  assert.is(s.tiers.find((t) => t.name === 'disk')!.errors, 1, 'and the corruption was counted')
  await second.close()
})

test('with no memory tier, a block whose disk fill is still queued is read from the queue, not fetched again', async () => {
  const size = 24 * MiB
  await s3.put('data', 'queued', patternBytes(size, 'queued'))
  const r = reader({ cacheDir: cacheDir(), memory: { maxBytes: 0 } })
  const h = await r.open('s3://data/queued')
  const buf = Buffer.alloc(4 * MiB)
  for (let pos = 0; pos < size; pos += buf.length) {
    const n = await h.readInto(buf, 0, pos, buf.length)
    assert.ok(buf.subarray(0, n).equals(patternBytes(size, 'queued').subarray(pos, pos + n)), `bytes at ${pos}`)
  }
  const s = r.stats()
  assert.is(s.source.bytes, size, 'every byte fetched once')
  assert.is(s.prefetch.usedBlocks, s.prefetch.issuedBlocks, 'every prefetched block was used')
  await r.close()
})

test('prefetched blocks nobody read are counted as wasted when the reader closes', async () => {
  const r = reader({ cacheDir: cacheDir(), blockSize: 64 * KiB, memory: { maxBytes: 0 }, prefetch: { maxReadAheadBytes: 1 * MiB } })
  const h = await r.open('s3://data/obj')
  for (let pos = 0; pos < 512 * KiB; pos += 32 * KiB) await h.read(pos, 32 * KiB)
  await r.flush()
  const before = r.stats().prefetch
  assert.ok(before.issuedBlocks > before.usedBlocks, `read-ahead ran past the reads: ${JSON.stringify(before)}`)
  await r.close()
  const after = r.stats().prefetch
  assert.is(after.usedBlocks + after.wastedBlocks, after.issuedBlocks, JSON.stringify(after))
  assert.ok(after.wastedBlocks > 0)
})

test('a block fetched ahead twice without being read counts as wasted twice', async () => {
  const r = reader({ cacheDir: cacheDir(), blockSize: 256 * KiB, memory: { maxBytes: 0 } })
  const h = await r.open('s3://data/obj')
  const landed = async () => {
    await waitFor('the read-ahead to land', () => r.stats().prefetch.inflightBytes === 0, { intervalMs: 5 })
    await r.flush()
  }
  h.prefetch(0, 1 * MiB)
  await landed()
  await r.evict('s3://data/obj') // gone from every tier, still unread
  h.prefetch(0, 1 * MiB)
  await landed()
  await r.close()
  const p = r.stats().prefetch
  assert.is(p.issuedBlocks, 8, JSON.stringify(p))
  assert.is(p.usedBlocks + p.wastedBlocks, p.issuedBlocks, JSON.stringify(p))
})

test('concurrent misses on one block share one fetch; consecutive blocks coalesce', async () => {
  const r = reader({ blockSize: 64 * KiB, prefetch: { coalesceBytes: 1 * MiB } })
  const h = await r.open('s3://data/obj')
  const reads = await Promise.all(Array.from({ length: 8 }, () => h.read(70_000, 1000)))
  for (const got of reads) assert.ok(Buffer.from(got).equals(OBJECT.subarray(70_000, 71_000)))
  assert.is(r.stats().source.gets, 1, 'one GET for eight concurrent readers')
  await h.read(2 * MiB, 1 * MiB) // 16 blocks, coalesced into one GET
  assert.is(r.stats().source.gets, 2)
  await r.close()
})

test('an overwritten object: the old handle fails with ERR_SLUICE_OBJECT_CHANGED, a new open reads new bytes', async () => {
  await s3.put('data', 'changing', patternBytes(300 * KiB, 'v1'))
  const dirPath = cacheDir()
  // No read-ahead: the test needs blocks of the old version that were never fetched.
  const r = reader({ cacheDir: dirPath, blockSize: 64 * KiB, prefetch: { maxReadAheadBytes: 0 } })
  const old = await r.open('s3://data/changing')
  const v1 = await old.read(0, 64 * KiB)
  assert.ok(Buffer.from(v1).equals(patternBytes(300 * KiB, 'v1').subarray(0, 64 * KiB)))
  await s3.put('data', 'changing', patternBytes(300 * KiB, 'v2'))
  try {
    await old.read(200 * KiB, 10)
    assert.unreachable('read the new version through the old handle')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_OBJECT_CHANGED', (err as Error).message)
  }
  const fresh = await r.open('s3://data/changing')
  assert.is.not(fresh.version, old.version)
  const v2 = await fresh.read(0, 300 * KiB)
  assert.ok(Buffer.from(v2).equals(patternBytes(300 * KiB, 'v2')), 'new bytes, not cached old blocks')
  await r.close()
})

test('sequential reads prefetch ahead, bounded, and the prefetched blocks get used', async () => {
  const r = reader({ blockSize: 64 * KiB, prefetch: { maxReadAheadBytes: 512 * KiB, maxInflightBytes: 1 * MiB } })
  const h = await r.open('s3://data/obj')
  for (let pos = 0; pos < OBJECT.length; pos += 32 * KiB) {
    const got = await h.read(pos, 32 * KiB)
    assert.ok(Buffer.from(got).equals(OBJECT.subarray(pos, pos + 32 * KiB)))
    assert.ok(r.stats().prefetch.inflightBytes <= 1 * MiB)
  }
  const p = r.stats().prefetch
  assert.ok(p.issuedBlocks > 0, 'prefetch issued')
  assert.ok(p.usedBlocks > 0, 'prefetched blocks were used')
  await r.close()
})

test('random reads do not prefetch', async () => {
  const r = reader({ blockSize: 64 * KiB })
  const h = await r.open('s3://data/obj')
  const rand = prng(7)
  for (let i = 0; i < 20; i++) await h.read(Math.floor(rand() * OBJECT.length), 100)
  assert.is(r.stats().prefetch.issuedBlocks, 0)
  await r.close()
})

test('empty objects and reads past the end', async () => {
  const r = reader({ cacheDir: cacheDir() })
  const h = await r.open('s3://data/empty')
  assert.is(h.size, 0)
  assert.is((await h.read(0, 100)).length, 0)
  for await (const _ of h.chunks()) assert.unreachable('chunks of an empty object')
  const o = await r.open('s3://data/obj')
  assert.is((await o.read(OBJECT.length, 10)).length, 0)
  assert.is((await o.read(OBJECT.length - 3, 10)).length, 3)
  await r.close()
})

test('createReadStream streams the object', async () => {
  const r = reader({ blockSize: 256 * KiB })
  const h = await r.open('s3://data/obj')
  const parts: Buffer[] = []
  for await (const c of h.createReadStream()) parts.push(c as Buffer)
  assert.ok(Buffer.concat(parts).equals(OBJECT))
  await r.close()
})

test('preload fills the disk tier, reports verified residency, and evict removes it', async () => {
  await s3.put('data', 'set/a', patternBytes(700 * KiB, 'a'))
  await s3.put('data', 'set/b/c', patternBytes(1 * MiB, 'c'))
  const dirPath = cacheDir()
  const r = reader({ cacheDir: dirPath, blockSize: 128 * KiB })
  const dry = await r.preload(['s3://data/set/'], { dryRun: true })
  assert.is(dry.fetchedBytes, 700 * KiB + 1 * MiB, 'dry run reports what would be fetched')
  assert.is(r.stats().source.gets, 0, 'dry run fetches nothing')
  const progress: number[] = []
  const result = await r.preload(['s3://data/set/'], { onProgress: (p) => progress.push(p.bytesDone) })
  assert.ok(result.complete, JSON.stringify(result.failed))
  assert.is(result.residentBytes, 700 * KiB + 1 * MiB)
  assert.equal(result.objects.map((o) => o.url), ['s3://data/set/a', 's3://data/set/b/c'])
  assert.ok(progress.length > 0 && progress[progress.length - 1] === result.requestedBytes)
  const again = await r.preload(['s3://data/set/a'])
  assert.is(again.fetchedBytes, 0, 'already resident')
  assert.is(await r.evict('s3://data/set/a'), Math.ceil((700 * KiB) / (128 * KiB)))
  const after = await r.preload(['s3://data/set/a'], { dryRun: true })
  assert.is(after.residentBytes, 0)
  const missing = await r.preload(['s3://data/nothing-here'])
  assert.is(missing.complete, false)
  assert.is(missing.failed[0]!.code, 'ERR_SLUICE_NOT_FOUND')
  await r.close()
})

test('repeated epochs over a dataset twice the disk tier keep hitting at least 40%', async () => {
  const src = new MemorySource('mem')
  const urls = Array.from({ length: 16 }, (_, i) => src.put(`mem://d/${i}`, patternBytes(256 * KiB, i)).url)
  const r = new BlockReader({
    sources: [src],
    cacheDir: cacheDir(),
    blockSize: 64 * KiB,
    memory: { maxBytes: 0 },
    disk: { maxBytes: 2 * MiB + 256 * KiB },
    prefetch: { maxReadAheadBytes: 0 },
  })
  const ratios: number[] = []
  for (let epoch = 0; epoch < 4; epoch++) {
    const before = src.bytesRead
    for (const url of urls) {
      const h = await r.open(url)
      for (let pos = 0; pos < h.size; pos += 64 * KiB) await h.read(pos, 64 * KiB)
      await h.close()
      // MemorySource answers without yielding to the event loop; let the disk fills land in
      // reading order as they would behind a real network.
      await r.cache.flush()
    }
    ratios.push(1 - (src.bytesRead - before) / (16 * 256 * KiB))
  }
  const disk = r.stats().tiers.find((t) => t.name === 'disk')!
  assert.ok(disk.usedBytes <= disk.maxBytes)
  for (const ratio of ratios.slice(1)) assert.ok(ratio >= 0.4, `epoch hit ratios ${ratios.map((x) => x.toFixed(2)).join(' ')}`)
  await r.close()
})

test('with read-ahead and a small memory tier, every epoch over twice the disk tier skips at least 40% of the bytes', async () => {
  // The benchmark's loop: prefetched blocks wait in a memory tier an eighth of the dataset,
  // the disk tier holds half. Prefetched blocks must not be evicted before they are read, and
  // the blocks the reader fetched ahead must not displace the resident half of the disk tier.
  const src = new MemorySource('mem')
  const objects = 2
  const size = 8 * MiB
  const urls = Array.from({ length: objects }, (_, i) => src.put(`mem://loop/${i}`, patternBytes(size, `loop${i}`)).url)
  const r = new BlockReader({
    sources: [src],
    cacheDir: cacheDir(),
    blockSize: 64 * KiB,
    memory: { maxBytes: 2 * MiB },
    disk: { maxBytes: 8 * MiB },
    prefetch: { coalesceBytes: 128 * KiB, maxReadAheadBytes: 2 * MiB },
  })
  const buf = Buffer.alloc(48 * KiB)
  const notFetched: number[] = []
  for (let epoch = 0; epoch < 4; epoch++) {
    const before = src.bytesRead
    for (const url of urls) {
      const h = await r.open(url)
      for (let pos = 0; pos < h.size; ) {
        const n = await h.readInto(buf, 0, pos, buf.length)
        if (!buf.subarray(0, n).equals(patternBytes(size, url.replace('mem://loop/', 'loop')).subarray(pos, pos + n))) assert.unreachable(`wrong bytes at ${url} ${pos}`)
        pos += n
      }
      await h.close()
      await r.cache.flush()
    }
    notFetched.push(1 - (src.bytesRead - before) / (objects * size))
  }
  const shown = notFetched.map((x) => x.toFixed(2)).join(' ')
  for (const share of notFetched.slice(1)) assert.ok(share >= 0.4, `bytes not fetched per epoch: ${shown}`)
  assert.ok(notFetched[0]! >= -0.01, `the first epoch fetched more than the dataset (${shown}): prefetched blocks were evicted unread`)
  await r.close()
})

test('drop-behind evicts the blocks a stream has read past, not blocks before where it started', async () => {
  const bs = 64 * KiB
  const src = new MemorySource('mem')
  const url = src.put('mem://drop/obj', patternBytes(64 * bs, 'drop')).url
  const r = new BlockReader({ sources: [src], blockSize: bs, memory: { maxBytes: 16 * bs }, prefetch: { coalesceBytes: bs } })
  // Handle A reads blocks 0..3 out of order (no read-ahead, nothing of its own passed).
  const a = await r.open(url)
  for (const i of [3, 1, 2, 0]) await a.read(i * bs + 10, 100)
  // Handle B streams 13 blocks from block 32: the tier must evict, and it should evict B's.
  const b = await r.open(url)
  const it = b.chunks({ start: 32 * bs })[Symbol.asyncIterator]()
  for (let k = 0; k < 13; k++) await it.next()
  const before = src.bytesRead
  for (const i of [0, 1, 2, 3]) await a.read(i * bs + 10, 100)
  assert.is((src.bytesRead - before) / bs, 0, "A's blocks are still in memory")
  assert.ok(r.stats().tiers[0]!.evictions > 0, 'the tier did evict')
  await it.return?.()
  await r.close()
})

test('the disk tier keeps object records only while blocks of the object are there; another reader evicts through them', async () => {
  const src = new MemorySource()
  const urls = Array.from({ length: 120 }, (_, i) => src.put(`mem://records/${i}`, patternBytes(64 * KiB, `rec${i}`)).url)
  const dirPath = cacheDir()
  // Room for 16 of the 120 one-block objects: the rest pass through and are evicted or refused.
  const options = { sources: [src], cacheDir: dirPath, blockSize: 64 * KiB, memory: { maxBytes: 0 }, disk: { maxBytes: 16 * chargedBytes(64 * KiB) } }
  const r = new BlockReader(options)
  for (const url of urls) await (await r.open(url)).read(0, 64 * KiB)
  await r.flush()
  const disk = r.stats().tiers.find((t) => t.name === 'disk')!
  assert.ok(disk.entries > 0 && disk.entries <= 16, `blocks resident: ${disk.entries}`)
  assert.is(disk.objects, disk.entries, 'one record per object with a block here, none for the rest')
  await r.close()
  const env = openLmdb({ path: dirPath, maxDbs: 8 })
  const count = (name: string, keyEncoding?: 'binary') => env.openDB({ name, ...(keyEncoding ? { keyEncoding } : {}) }).getCount()
  assert.is(count('objects', 'binary'), disk.entries)
  assert.is(count('urls', 'binary'), disk.entries)
  assert.is(count('latest'), disk.entries, 'an outage can only be read through for what is cached')
  await env.close()
  // A reader that never opened these URLs finds their blocks through the disk tier's index.
  const other = new BlockReader(options)
  let removed = 0
  for (const url of urls) removed += await other.evict(url)
  assert.is(removed, disk.entries)
  assert.is(other.stats().tiers.find((t) => t.name === 'disk')!.objects, 0, 'and their records went with them')
  await other.close()
})

test('a reader that opens many objects remembers a bounded number of URLs, and evict still reaches every memory-tier block', async () => {
  const src = new MemorySource()
  const urls = Array.from({ length: 20_000 }, (_, i) => src.put(`mem://many/${i}`, patternBytes(1000, `many${i}`)).url)
  const opened = Array.from({ length: 10_000 }, (_, i) => src.put(`mem://opened/${i}`, patternBytes(10, i)).url)
  // 2 MiB of memory keeps about 2000 of the 1000-byte objects resident at a time.
  const r = new BlockReader({ sources: [src], blockSize: 4 * KiB, memory: { maxBytes: 2 * MiB } })
  const kept = await r.open(urls[0]!) // open throughout
  for (const url of urls.slice(1)) {
    const h = await r.open(url)
    await h.read(0, 1000)
    await h.close()
  }
  // Opened and never read: nothing of theirs is resident, so these are forgotten first.
  for (const url of opened) await (await r.open(url)).close()
  const tracked = (r as unknown as { pins: { size: number } }).pins.size
  assert.ok(tracked <= 8192, `URLs remembered: ${tracked} of 30000 opened`)
  // The open handle's URL was kept: blocks it reads now are still found by evict.
  assert.ok(Buffer.from(await kept.read(0, 1000)).equals(patternBytes(1000, 'many0')))
  assert.is(await r.evict(urls[0]!), 1, 'the open handle\'s block')
  // So were the URLs whose blocks are resident.
  for (const url of urls.slice(-100)) assert.is(await r.evict(url), 1, url)
  const before = src.calls.readRange
  await (await r.open(urls.at(-1)!)).read(0, 1000)
  assert.is(src.calls.readRange - before, 1, 'an evicted block is fetched again')
  await r.close()
})

test('options are validated with messages that name the option', () => {
  const cases: [BlockReaderOptions, RegExp][] = [
    [{ blockSize: 100 }, /blockSize/],
    [{ blockSize: 1.5 * MiB + 0.5 }, /blockSize/],
    [{ memory: { maxBytes: -1 } }, /memory\.maxBytes/],
    [{ disk: { lowWatermark: 0.9 } } as BlockReaderOptions, /unknown option disk\.lowWatermark/],
    [{ disk: { writerThread: 'yes' } } as unknown as BlockReaderOptions, /disk\.writerThread must be true or false/],
    [{ prefetch: { threads: -1 } }, /prefetch\.threads/],
    [{ retry: { maxAttempts: 0 } }, /retry\.maxAttempts/],
    [{ cacheDir: '' }, /cacheDir/],
  ]
  for (const [options, message] of cases) {
    assert.throws(() => new BlockReader(options), (err: Error) => (err instanceof RangeError || err instanceof TypeError) && message.test(err.message))
  }
})

test('bad URLs and missing things reject with their codes', async () => {
  const r = reader()
  const codes: [string, string][] = [
    ['gs://bucket/key', 'ERR_SLUICE_UNSUPPORTED_SCHEME'],
    ['s3://data/nope', 'ERR_SLUICE_NOT_FOUND'],
    ['s3://no-such-bucket/key', 'ERR_SLUICE_BUCKET_NOT_FOUND'],
    ['not a url', 'ERR_SLUICE_INVALID_URL'],
  ]
  for (const [url, code] of codes) {
    try {
      await r.open(url)
      assert.unreachable(url)
    } catch (err) {
      assert.is((err as { code?: string }).code, code, `${url}: ${(err as Error).message}`)
      if (code === 'ERR_SLUICE_UNSUPPORTED_SCHEME') {
        assert.match((err as Error).message, 'supported: s3, file, http, https', 'names the supported schemes')
        assert.match((err as Error).message, '"gs"', 'and the one asked for')
      }
    }
  }
  const bad = reader({ s3: { ...s3.server.s3, credentials: { accessKeyId: 'AKIANOTREAL', secretAccessKey: 'x' } } })
  try {
    await bad.open('s3://data/obj')
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_ACCESS_DENIED')
  }
  await bad.close()
  await r.close()
  try {
    await r.open('s3://data/obj')
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_CLOSED')
  }
})

test.run()
