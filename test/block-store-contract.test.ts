/**
 * One contract, every BlockStore (memory LRU, LMDB on real files, LMDB over two directories,
 * the composition of memory and LMDB, and the cluster tier on a real Redis Cluster), then what only the
 * disk tier promises: it survives reopening, keeps exact usage within its bound however much
 * is pushed through it, detects a flipped byte, empties a cache of another format, and
 * writes a block's header in front of it only where that room is the block's own.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { DiskSet, LmdbBlockStore, MemoryBlockStore, type BlockStore } from '../lib/index.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { HEADER_BYTES, MAGIC } from '../lib/cache/lmdb-layout.js'
import { allocBlock } from '../lib/block-buffer.js'
import { TieredBlockCache } from '../lib/cache/tiered-block-cache.js'
import { RedisClusterBlockStore } from '../lib/cache/redis-cluster-block-store.js'
import { redisClusterMissing, startRedisCluster, type RedisCluster } from '../lib/testing/index.js'
import { announceSkip, testUnless } from './support/skip.js'
import { patternBytes } from './support/data.js'
import { waitFor } from './support/wait.js'

const KB = 1024
let dir: string
const dirs: string[] = []
async function freshDir(): Promise<string> {
  const d = await mkdtemp(join(dir, 'store-'))
  dirs.push(d)
  return d
}

async function lmdb(maxBytes: number, path?: string, writerThread = false): Promise<LmdbBlockStore> {
  const store = new LmdbBlockStore({ path: path ?? (await freshDir()), maxBytes, blockSize: 64 * KB, writerThread })
  await store.init()
  return store
}

// The cluster tier is a BlockStore too, on a real Redis Cluster where one can be started. It is
// remote: `has` cannot know without a round trip, and its usage is the cluster's (Redis's
// maxmemory bounds it), so those promises are the local tiers' only.
const noRedis = announceSkip('block-store-contract', 'the cluster tier in the BlockStore contract', redisClusterMissing())
let redis: RedisCluster | undefined
let prefixes = 0
async function clusterStore(): Promise<BlockStore> {
  const store = new RedisClusterBlockStore({ nodes: redis!.nodes, keyPrefix: `contract-${prefixes++}:` })
  await store.init()
  return store
}

/** The disk tier over two directories, splitting `maxBytes` between them unevenly. */
async function diskSet(maxBytes: number): Promise<DiskSet> {
  const third = Math.floor(maxBytes / 3)
  const store = new DiskSet({ dirs: [{ path: await freshDir(), maxBytes: third }, { path: await freshDir(), maxBytes: maxBytes - third }], blockSize: 64 * KB })
  await store.init()
  return store
}

const makers: [string, (maxBytes: number) => Promise<BlockStore>][] = [
  ['MemoryBlockStore', async (max) => new MemoryBlockStore(max)],
  ['LmdbBlockStore', (max) => lmdb(max)],
  ['LmdbBlockStore (writer thread)', (max) => lmdb(max, undefined, true)],
  ['DiskSet (two LMDB directories)', (max) => diskSet(max)],
  // The composition is a BlockStore too: memory over LMDB, fills awaited through its budget.
  ['TieredBlockCache (memory over LMDB)', async (max) => new TieredBlockCache([{ store: new MemoryBlockStore(max) }, { store: await lmdb(max), maxPendingWriteBytes: max }])],
  ['RedisClusterBlockStore', () => clusterStore()],
]

const contract = suite('BlockStore contract')
contract.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-store-'))
  if (noRedis === undefined) redis = await startRedisCluster({ masters: 3 })
})
contract.after(async () => {
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

const id = objectId('s3://b/k', '"etag"', 64 * KB, 1 << 30)

for (const [name, make] of makers) {
  const remote = name === 'RedisClusterBlockStore'
  const it = testUnless(remote ? noRedis : undefined, contract)
  it(`${name}: put, get, has, delete`, async () => {
    const store = await make(8 * 1024 * KB)
    const a = patternBytes(64 * KB, 'a')
    assert.is(store.has(blockKey(id, 0)), false)
    assert.is((await store.getMany([blockKey(id, 0)]))[0], undefined)
    assert.is(await store.put(blockKey(id, 0), a), true)
    assert.is(store.has(blockKey(id, 0)), !remote, remote ? 'a remote tier never claims a block without a round trip' : 'present')
    assert.ok(Buffer.from(((await store.getMany([blockKey(id, 0)]))[0])!).equals(a), `${name} returns the bytes`)
    if (!remote) assert.is(store.usage().entries, 1)
    assert.is(await store.delete(blockKey(id, 0)), true)
    assert.is((await store.getMany([blockKey(id, 0)]))[0], undefined)
    if (!remote) {
      assert.is(store.usage().entries, 0)
      assert.is(store.usage().usedBytes, 0, `${name} usage back to zero`)
    }
    await store.close()
  })

  it(`${name}: deletePrefix removes one object's blocks only`, async () => {
    const store = await make(8 * 1024 * KB)
    const other = objectId('s3://b/other', '"e"', 64 * KB, 1 << 30)
    for (let i = 0; i < 5; i++) await store.put(blockKey(id, i), patternBytes(1000, i))
    await store.put(blockKey(other, 0), patternBytes(1000, 'o'))
    assert.is(await store.deletePrefix(id), 5)
    if (!remote) assert.is(store.usage().entries, 1)
    const left = await store.getMany([blockKey(id, 0), blockKey(id, 4), blockKey(other, 0)])
    assert.equal(left.map((b) => b !== undefined), [false, false, true], 'the other object is still there')
    await store.close()
  })

  // Redis's maxmemory bounds the cluster tier, not the store.
  if (remote) continue
  contract(`${name}: usage stays within maxBytes under 3x the capacity of fills`, async () => {
    const max = 1024 * KB
    const store = await make(max)
    for (let i = 0; i < 48; i++) {
      await store.put(blockKey(id, i), patternBytes(64 * KB, i))
      assert.ok(store.usage().usedBytes <= max, `${name} usage ${store.usage().usedBytes} > ${max} after put ${i}`)
    }
    assert.ok(store.usage().entries > 0)
    await store.close()
  })
}

contract('LmdbBlockStore: survives reopening with exact usage', async () => {
  const path = await freshDir()
  const store = await lmdb(4 * 1024 * KB, path)
  const sizes = [64 * KB, 1, 5000, 64 * KB - 1]
  for (let i = 0; i < sizes.length; i++) await store.put(blockKey(id, i), patternBytes(sizes[i]!, i))
  const expected = sizes.reduce((n, s) => n + chargedBytes(s), 0)
  assert.is(store.usage().usedBytes, expected)
  await store.close()
  const again = await lmdb(4 * 1024 * KB, path)
  assert.is(again.usage().usedBytes, expected, 'usage after reopen')
  assert.is(again.usage().entries, sizes.length)
  for (let i = 0; i < sizes.length; i++) {
    assert.ok(Buffer.from(((await again.getMany([blockKey(id, i)]))[0])!).equals(patternBytes(sizes[i]!, i)), `block ${i} after reopen`)
  }
  await again.close()
})

for (const writerThread of [false, true]) {
  const mode = writerThread ? ' (writer thread)' : ''
  contract(`LmdbBlockStore${mode}: a block with header room is stored from its own memory; a view of another buffer is never written before`, async () => {
    const store = await lmdb(8 * 1024 * KB, undefined, writerThread)
    const roomy = allocBlock(64 * KB)
    roomy.set(patternBytes(64 * KB, 'roomy'))
    // Uninitialised memory may hold an earlier block's header: start from zeros.
    new Uint8Array(roomy.buffer, roomy.byteOffset - HEADER_BYTES, HEADER_BYTES).fill(0)
    assert.ok(await store.put(blockKey(id, 0), roomy))
    const room = Buffer.from(roomy.buffer, roomy.byteOffset - HEADER_BYTES, HEADER_BYTES)
    // Inline, the header went in front of the block; the writer thread copies instead.
    assert.is(room.readUInt32LE(0) === MAGIC, !writerThread, 'header written in place only when inline')
    // A block that is a slice of a larger buffer: the bytes in front belong to someone else.
    const shared = patternBytes(2 * 64 * KB, 'shared')
    const before = Buffer.from(shared.subarray(0, 64 * KB))
    const slice = shared.subarray(64 * KB)
    assert.ok(await store.put(blockKey(id, 1), slice))
    assert.ok(Buffer.from(shared.subarray(0, 64 * KB)).equals(before), 'the bytes in front of a slice are untouched')
    assert.ok(Buffer.from(((await store.getMany([blockKey(id, 0)]))[0])!).equals(patternBytes(64 * KB, 'roomy')))
    assert.ok(Buffer.from(((await store.getMany([blockKey(id, 1)]))[0])!).equals(patternBytes(2 * 64 * KB, 'shared').subarray(64 * KB)))
    await store.close()
  })
}

for (const writerThread of [false, true]) {
  const mode = writerThread ? ' (writer thread)' : ''
  contract(`LmdbBlockStore${mode}: an object's records come with its first block and go with its last; latest falls back to a version still here`, async () => {
    const store = await lmdb(8 * 1024 * KB, undefined, writerThread)
    const url = 's3://b/versioned'
    const v1 = objectId(url, '"v1"', 64 * KB, 128 * KB)
    const v2 = objectId(url, '"v2"', 64 * KB, 128 * KB)
    const record = (version: string) => ({ url, version, size: 128 * KB, blockSize: 64 * KB })
    assert.is(store.lastKnownVersion(url), undefined)
    await store.put(blockKey(v1, 0), patternBytes(64 * KB, 'v1a'), record('"v1"'))
    await store.put(blockKey(v1, 1), patternBytes(64 * KB, 'v1b'), record('"v1"'))
    await store.put(blockKey(v2, 0), patternBytes(64 * KB, 'v2a'), record('"v2"'))
    store.refresh()
    assert.is(store.objectCount(), 2)
    assert.is(store.lastKnownVersion(url)?.version, '"v2"', 'the version cached last')
    assert.equal(store.objectsForUrl(url).map((id) => Buffer.from(id).toString('hex')).sort(), [v1, v2].map((id) => Buffer.from(id).toString('hex')).sort())
    await store.delete(blockKey(v2, 0))
    assert.is(store.lastKnownVersion(url)?.version, '"v1"', 'falls back to the version still here')
    assert.is(store.objectCount(), 1)
    await store.delete(blockKey(v1, 0))
    assert.is(store.objectCount(), 1, 'one block of v1 is left')
    await store.delete(blockKey(v1, 1))
    assert.is(store.objectCount(), 0)
    assert.is(store.lastKnownVersion(url), undefined)
    assert.equal(store.objectsForUrl(url), [])
    await store.close()
  })

  contract(`LmdbBlockStore${mode}: latest stays on a version still cached at another block size, else takes the newest left`, async () => {
    const store = await lmdb(8 * 1024 * KB, undefined, writerThread)
    const url = 's3://b/sizes'
    const record = (version: string, blockSize: number, mtimeMs: number) => ({ url, version, size: 256 * KB, blockSize, mtimeMs })
    const old = objectId(url, '"old"', 64 * KB, 256 * KB)
    const mid = objectId(url, '"mid"', 64 * KB, 256 * KB)
    const new64 = objectId(url, '"new"', 64 * KB, 256 * KB)
    const new128 = objectId(url, '"new"', 128 * KB, 256 * KB)
    await store.put(blockKey(mid, 0), patternBytes(64 * KB, 'mid'), record('"mid"', 64 * KB, 2000))
    await store.put(blockKey(new64, 0), patternBytes(64 * KB, 'n64'), record('"new"', 64 * KB, 3000))
    await store.put(blockKey(new128, 0), patternBytes(128 * KB, 'n128'), record('"new"', 128 * KB, 3000))
    // An older version cached after the newer one (a long-lived handle) does not take latest.
    await store.put(blockKey(old, 0), patternBytes(64 * KB, 'old'), record('"old"', 64 * KB, 1000))
    store.refresh()
    assert.is(store.lastKnownVersion(url)?.version, '"new"')
    await store.delete(blockKey(new64, 0))
    assert.is(store.lastKnownVersion(url)?.version, '"new"', 'still cached with 128 KiB blocks')
    await store.delete(blockKey(new128, 0))
    assert.is(store.lastKnownVersion(url)?.version, '"mid"', 'the newest version left, not the first id')
    await store.close()
  })

  contract(`LmdbBlockStore${mode}: a URL longer than an LMDB key is recorded, listed and forgotten like any other`, async () => {
    const store = await lmdb(8 * 1024 * KB, undefined, writerThread)
    // LMDB refuses keys over 1978 bytes; a presigned URL or a deep path can be longer.
    const long = (tail: string) => `https://h/${'d/'.repeat(1200)}${tail}`
    const urls = [long('a'), long('b'), 'https://h/short']
    for (const url of urls) {
      const id = objectId(url, 'v', 64 * KB, 64 * KB)
      assert.ok(await store.put(blockKey(id, 0), patternBytes(64 * KB, url), { url, version: 'v', size: 64 * KB, blockSize: 64 * KB }))
    }
    store.refresh()
    assert.is(store.objectCount(), 3)
    for (const url of urls) {
      assert.is(store.objectsForUrl(url).length, 1, 'one id per URL, none of another URL that shares its start')
      assert.is(store.lastKnownVersion(url)?.url, url)
    }
    assert.equal(store.lastKnownUnder('https://h/d/').map((o) => o.url), [long('a'), long('b')])
    assert.equal(store.lastKnownUnder(long('')).map((o) => o.url), [long('a'), long('b')], 'a prefix longer than the indexed start')
    assert.equal(store.lastKnownUnder('https://h/').map((o) => o.url), [long('a'), long('b'), 'https://h/short'])
    await store.delete(blockKey(objectId(long('a'), 'v', 64 * KB, 64 * KB), 0))
    assert.equal(store.objectsForUrl(long('a')), [])
    assert.is(store.lastKnownVersion(long('a')), undefined)
    assert.is(store.objectCount(), 2)
    await store.close()
  })

  contract(`LmdbBlockStore${mode}: a URL with a zero byte does not share another URL's index range`, async () => {
    const store = await lmdb(8 * 1024 * KB, undefined, writerThread)
    for (const url of ['s3://b/a', 's3://b/a\u0000x']) {
      const id = objectId(url, 'v', 64 * KB, 64 * KB)
      await store.put(blockKey(id, 0), patternBytes(64 * KB, url), { url, version: 'v', size: 64 * KB, blockSize: 64 * KB })
    }
    store.refresh()
    assert.equal(store.objectsForUrl('s3://b/a').map((id) => Buffer.from(id).toString('hex')), [Buffer.from(objectId('s3://b/a', 'v', 64 * KB, 64 * KB)).toString('hex')])
    await store.close()
  })
}

contract('LmdbBlockStore: a fill that throws half way leaves nothing behind (no block, no usage, no record)', async () => {
  const store = await lmdb(8 * 1024 * KB)
  const url = 's3://b/ok'
  const id = objectId(url, 'v', 64 * KB, 128 * KB)
  await store.put(blockKey(id, 0), patternBytes(64 * KB, 'ok'), { url, version: 'v', size: 128 * KB, blockSize: 64 * KB })
  const before = store.usage()
  // A record that cannot be written throws after the block, its size and usage are: lmdb-js
  // would commit those writes, so the fill runs as a child transaction that is aborted.
  const bad = objectId('s3://b/bad', 'v', 64 * KB, 64 * KB)
  const record = { url: Symbol('not a URL') as unknown as string, version: 'v', size: 64 * KB, blockSize: 64 * KB }
  try {
    await store.put(blockKey(bad, 0), patternBytes(64 * KB, 'bad'), record)
    assert.unreachable('a fill with a record it cannot write was stored')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_CACHE', (err as Error).message)
  }
  store.refresh()
  assert.is(store.has(blockKey(bad, 0)), false, 'no block')
  assert.equal(store.usage(), before, 'usage and entries as before')
  assert.is(store.objectCount(), 1)
  assert.ok(await store.put(blockKey(id, 1), patternBytes(64 * KB, 'ok2'), { url, version: 'v', size: 128 * KB, blockSize: 64 * KB }), 'the tier still takes fills')
  await store.close()
})

contract('LmdbBlockStore: a cache directory with a dot in its name is a directory, not a file', async () => {
  const path = join(await freshDir(), 'cache.v1')
  const store = await lmdb(4 * 1024 * KB, path)
  await store.put(blockKey(id, 0), patternBytes(1000, 'dot'))
  await store.close()
  const files = await readdir(path)
  assert.ok(files.includes('data.mdb'), `LMDB files inside ${path}: ${files.join(', ')}`)
  const again = await lmdb(4 * 1024 * KB, path)
  assert.ok(Buffer.from(((await again.getMany([blockKey(id, 0)]))[0])!).equals(patternBytes(1000, 'dot')))
  await again.close()
})

contract('LmdbBlockStore: a flipped byte in the file is detected and never served', async () => {
  const path = await freshDir()
  const store = await lmdb(4 * 1024 * KB, path)
  const block = patternBytes(64 * KB, 'flip')
  await store.put(blockKey(id, 0), block)
  await store.close()
  const file = join(path, 'data.mdb')
  const raw = await readFile(file)
  const at = raw.indexOf(block.subarray(1000, 1064))
  assert.ok(at > 0, 'block bytes are in the file')
  raw[at + 10] = raw[at + 10]! ^ 0x01
  await writeFile(file, raw)
  const again = await lmdb(4 * 1024 * KB, path)
  assert.is((await again.getMany([blockKey(id, 0)]))[0], undefined, 'corrupt block is a miss')
  const s = again.stats()
  assert.is(s.errors, 1, 'the corruption is counted')
  // The drop is a write the read starts and does not wait for.
  await waitFor('the corrupt block to be dropped', () => !again.has(blockKey(id, 0)), { timeoutMs: 5_000 })
  assert.is(again.usage().usedBytes, 0, 'and its bytes are no longer counted')
  await again.close()
})

contract('LmdbBlockStore: a cache of another format version is emptied, not misread', async () => {
  const path = await freshDir()
  const store = await lmdb(4 * 1024 * KB, path)
  await store.put(blockKey(id, 0), patternBytes(100))
  await store.close()
  const env = openLmdb({ path, maxDbs: 8 })
  const meta = env.openDB({ name: 'meta' })
  await meta.put('format', 999)
  await env.close()
  const again = await lmdb(4 * 1024 * KB, path)
  assert.is(again.usage().entries, 0)
  assert.is(again.has(blockKey(id, 0)), false)
  await again.close()
})

contract('LmdbBlockStore: counts are recorded once each, even with saves overlapping the close', async () => {
  const path = await freshDir()
  const store = await lmdb(4 * 1024 * KB, path)
  await store.put(blockKey(id, 0), patternBytes(100))
  for (let i = 0; i < 3; i++) assert.ok((await store.getMany([blockKey(id, 0)]))[0])
  assert.is((await store.getMany([blockKey(id, 1)]))[0], undefined)
  void store.saveRecorded()
  void store.saveRecorded()
  await store.close()
  assert.equal(store.stats().recorded && { hits: store.stats().recorded!.hits, misses: store.stats().recorded!.misses }, { hits: 3, misses: 1 })
  const again = await lmdb(4 * 1024 * KB, path)
  const recorded = again.stats().recorded!
  assert.is(recorded.hits, 3, 'three hits, saved once')
  assert.is(recorded.misses, 1)
  assert.is(recorded.hitBytes, 300)
  assert.is(again.stats().hits, 0)
  assert.ok((await again.getMany([blockKey(id, 0)]))[0])
  assert.is(again.stats().recorded!.hits, 4, "this process's unsaved hit is included")
  await again.close()
})

contract('fills dropped at the write-behind bound are counted and recorded by the disk tier', async () => {
  const path = await freshDir()
  const store = await lmdb(4 * 1024 * KB, path)
  const cache = new TieredBlockCache([{ store, maxPendingWriteBytes: 100 * KB }])
  const puts = [0, 1, 2].map((i) => cache.put(blockKey(id, i), patternBytes(64 * KB, i)))
  assert.equal(await Promise.all(puts), [true, false, false], 'the first fill fits the bound; the next two are dropped')
  assert.is(cache.tierStats().find((t) => t.name === 'disk')!.droppedFills, 2)
  await store.close()
  const again = await lmdb(4 * 1024 * KB, path)
  assert.is(again.stats().recorded!.droppedFills, 2, 'the same two, recorded in the directory')
  await again.close()
})

contract('LmdbBlockStore: filling past the LMDB map size grows the map; blocks and usage stay exact', async () => {
  const path = await freshDir()
  const store = new LmdbBlockStore({ path, maxBytes: 64 * 1024 * KB, blockSize: 1024 * KB, mapBytes: 4 * 1024 * KB })
  await store.init()
  for (let i = 0; i < 8; i++) assert.ok(await store.put(blockKey(id, i), patternBytes(1024 * KB, i)), `put ${i} past the map size`)
  assert.is(store.usage().usedBytes, 8 * chargedBytes(1024 * KB))
  for (let i = 0; i < 8; i++) assert.ok(Buffer.from(((await store.getMany([blockKey(id, i)]))[0])!).equals(patternBytes(1024 * KB, i)))
  await store.close()
})

contract('LmdbBlockStore: a loop over twice the capacity keeps hitting (no LRU collapse)', async () => {
  const store = await lmdb(64 * 64 * KB + 64 * 4 * KB)
  const blocks = 128 // twice what fits
  let hits = 0
  let reads = 0
  for (let epoch = 0; epoch < 4; epoch++) {
    for (let i = 0; i < blocks; i++) {
      const key = blockKey(id, i)
      const got = (await store.getMany([key]))[0]
      if (epoch > 0) {
        reads++
        if (got) hits++
      }
      if (!got) await store.put(key, patternBytes(64 * KB - 100, i))
    }
  }
  const ratio = hits / reads
  assert.ok(ratio >= 0.4, `hit ratio ${ratio.toFixed(2)} over epochs 2-4`)
  await store.close()
})

contract('LmdbBlockStore: a dataset that fits fills the tier and is all resident the next time', async () => {
  // 67 blocks of 64 KiB (charged) where 68 fit: every fill is admitted while there is room
  // (an earlier version contested fills above 95% of capacity and kept the last ones out).
  const store = await lmdb(64 * 64 * KB + 64 * 4 * KB)
  const blocks = 67
  for (let i = 0; i < blocks; i++) await store.put(blockKey(id, i), patternBytes(64 * KB - 100, i))
  let hits = 0
  for (let epoch = 0; epoch < 2; epoch++) {
    for (let i = 0; i < blocks; i++) {
      const key = blockKey(id, i)
      if (((await store.getMany([key]))[0]) !== undefined) hits++
      else await store.put(key, patternBytes(64 * KB - 100, i))
    }
  }
  assert.is(hits, 2 * blocks, `hits over two epochs: ${hits} of ${2 * blocks}`)
  await store.close()
})

contract('LmdbBlockStore: a loop keeps its resident half however often a missing block is looked up', async () => {
  // How a reader drives the tier: resident blocks are read once per epoch; a missing block is
  // looked up by every small read that arrives while its fetch is in flight (here 0 to 3
  // times: some are prefetched and never looked up), then filled once. Misses must not count
  // as popularity, or the non-resident half outweighs the resident half every epoch and
  // displaces it; and a fill that wins must not free room for others to enter uncontested.
  const store = await lmdb(64 * 64 * KB + 64 * 4 * KB)
  const blocks = 128
  const perEpoch: number[] = []
  for (let epoch = 0; epoch < 5; epoch++) {
    let hits = 0
    for (let i = 0; i < blocks; i++) {
      const key = blockKey(id, i)
      if (store.has(key) && ((await store.getMany([key]))[0]) !== undefined) {
        hits++
        continue
      }
      for (let lookups = (i * 7 + epoch) % 4; lookups > 0; lookups--) (await store.getMany([key]))[0]
      await store.put(key, patternBytes(64 * KB - 100, i))
    }
    perEpoch.push(hits / blocks)
  }
  const shown = perEpoch.map((x) => x.toFixed(2)).join(' ')
  for (const ratio of perEpoch.slice(1)) assert.ok(ratio >= 0.4, `hit ratio per epoch: ${shown}`)
  await store.close()
})

contract.run()
