/**
 * The disk tier over several directories (DiskSet), on real LMDB files in temp dirs and a
 * real BlockReader over a MemorySource: where blocks are placed, that each directory keeps
 * its own bound, that a restart (same directories in any order, or one more) finds every
 * block, that a directory which cannot be opened is bypassed while the other serves, that
 * the merged catalogue answers with the newest version and evict reaches every directory,
 * and how the options are checked. A directory that fails after opening (a full disk) is in
 * disk-set-full.test.ts.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, CacheError, DiskSet, KiB, MemorySource, MiB, type BlockReaderOptions, type DiskDirStats, type TierStats } from '../lib/index.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { Placement } from '../lib/cache/disk-placement.js'
import { patternBytes } from './support/data.js'
import { errorLike } from './support/expect-error.js'

const test = suite('DiskSet')
let root: string
let dirCount = 0
const freshPath = () => join(root, `dir-${dirCount++}`)

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-diskset-'))
})
test.after(async () => {
  await rm(root, { recursive: true, force: true })
})

const BLOCK = 64 * KiB
const diskOf = (r: BlockReader): TierStats => r.stats().tiers.find((t) => t.name === 'disk')!
const dirsOf = (r: BlockReader): DiskDirStats[] => diskOf(r).dirs!

/** Objects of `blocks` blocks each, `count` of them, in a fresh MemorySource. */
function dataset(count: number, blocks: number): { src: MemorySource; urls: string[]; bytes: Map<string, Buffer> } {
  const src = new MemorySource()
  const bytes = new Map<string, Buffer>()
  const urls = Array.from({ length: count }, (_, i) => {
    const b = patternBytes(blocks * BLOCK, `set${i}`)
    const url = src.put(`mem://set/${i}`, b).url
    bytes.set(url, b)
    return url
  })
  return { src, urls, bytes }
}

async function readAll(r: BlockReader, urls: string[], bytes: Map<string, Buffer>): Promise<void> {
  for (const url of urls) {
    const h = await r.open(url)
    assert.ok(Buffer.from(await h.read(0, h.size)).equals(bytes.get(url)!), `bytes of ${url}`)
    await h.close()
  }
  await r.flush()
}

test('placement: the same home whatever the list order, shares follow the bounds, and an added directory takes only its own share', () => {
  const a = { path: '/nvme0/sluice', maxBytes: 1 * MiB }
  const b = { path: '/nvme1/sluice', maxBytes: 3 * MiB }
  const c = { path: '/nvme2/sluice', maxBytes: 2 * MiB }
  const two = new Placement([a, b])
  const swapped = new Placement([b, a])
  const three = new Placement([a, b, c])
  const homes = [0, 0, 0]
  let moved = 0
  for (let o = 0; o < 60; o++) {
    const id = objectId(`s3://bucket/shard-${o}`, '"etag"', 4 * MiB, 1 << 30)
    for (let i = 0; i < 100; i++) {
      const key = blockKey(id, i)
      const home = two.order(key)[0]!
      assert.is(swapped.order(key)[0], 1 - home, 'the list order does not move a block')
      assert.equal(two.order(key), two.order(key), 'deterministic')
      const now = three.order(key)[0]!
      homes[now]!++
      if (now !== home) {
        moved++
        assert.is(now, 2, 'a block that moves moves to the new directory only')
      }
    }
  }
  // 6000 keys, weights 1:3:2; the hash is fixed, so these counts are too.
  const share = homes.map((n) => n / 6000)
  assert.ok(Math.abs(share[0]! - 1 / 6) < 0.02 && Math.abs(share[1]! - 3 / 6) < 0.02 && Math.abs(share[2]! - 2 / 6) < 0.02, `shares ${share}`)
  assert.is(moved, homes[2], 'the new directory took exactly the blocks that moved')
})

test('two directories: each holds to its own bound under a fill larger than both, and both take blocks', async () => {
  const { src, urls, bytes } = dataset(12, 8) // 96 blocks: 6 MiB against 3 MiB of directories
  const dirs = [{ path: freshPath(), maxBytes: 1 * MiB }, { path: freshPath(), maxBytes: 2 * MiB }]
  const r = new BlockReader({ sources: [src], blockSize: BLOCK, memory: { maxBytes: 256 * KiB }, disk: { dirs } })
  await readAll(r, urls, bytes)
  const disk = diskOf(r)
  const each = dirsOf(r)
  assert.equal(each.map((d) => d.path), dirs.map((d) => d.path))
  for (const [i, d] of each.entries()) {
    assert.ok(d.usedBytes <= dirs[i]!.maxBytes, `${d.path}: ${d.usedBytes} used of ${dirs[i]!.maxBytes}`)
    assert.ok(d.entries > 0, `${d.path} holds blocks`)
    assert.ok(d.healthy)
    assert.ok(d.evictions + d.droppedFills > 0, `${d.path} was filled past its bound`)
  }
  assert.is(disk.maxBytes, 3 * MiB)
  assert.is(disk.usedBytes, each[0]!.usedBytes + each[1]!.usedBytes)
  assert.is(disk.entries, each[0]!.entries + each[1]!.entries)
  assert.equal(r.cacheDirs, dirs.map((d) => d.path))
  assert.is(r.cacheDir, dirs[0]!.path)
  const open = dirsOf(r).map((d) => [d.entries, d.objects, d.errors])
  await r.close()
  assert.equal(dirsOf(r).map((d) => [d.entries, d.objects, d.errors]), open, 'the last report stands after close, with no error for the closed files')
  assert.is(diskOf(r).objects, open.reduce((n, d) => n + d[1]!, 0))
})

test('a restart with the same directories, in another order or with one more, finds every block: no fetch on the second read', async () => {
  const { src, urls, bytes } = dataset(6, 5) // 30 blocks, room for all in either directory
  const [a, b, c] = [freshPath(), freshPath(), freshPath()]
  const options = (dirs: string[]): BlockReaderOptions => ({ sources: [src], blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { dirs: dirs.map((path) => ({ path, maxBytes: 4 * MiB })) } })
  const first = new BlockReader(options([a, b]))
  await readAll(first, urls, bytes)
  const held = dirsOf(first).map((d) => d.entries)
  assert.ok(held[0]! > 0 && held[1]! > 0, `both directories hold blocks: ${held}`)
  assert.is(held[0]! + held[1]!, 30)
  await first.close()

  for (const dirs of [[a, b], [b, a], [a, b, c]]) {
    const before = src.calls.readRange
    const again = new BlockReader(options(dirs))
    await readAll(again, urls, bytes)
    assert.is(src.calls.readRange - before, 0, `no fetch with directories ${dirs.map((d) => d.slice(-5))}`)
    assert.is(diskOf(again).hits, 30)
    assert.is(diskOf(again).misses, 0, 'a block found past its home is no miss')
    await again.close()
  }
})

test('a directory that cannot be opened (a file where it should be) is bypassed; the other serves and fills; none usable rejects ready()', async () => {
  const { src, urls, bytes } = dataset(4, 4)
  const broken = freshPath()
  await writeFile(broken, 'not a directory')
  const good = freshPath()
  const r = new BlockReader({ sources: [src], blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { dirs: [{ path: broken }, { path: good }] } })
  await r.ready()
  await readAll(r, urls, bytes)
  const [bad, ok] = dirsOf(r)
  assert.is(bad!.healthy, false)
  assert.match(bad!.lastError ?? '', /not a directory/)
  assert.is(bad!.entries, 0)
  assert.is(ok!.healthy, true)
  assert.is(ok!.entries, 16, 'every block went to the directory that works')
  assert.is(diskOf(r).healthy, true, 'the tier serves while a directory does')
  const before = src.calls.readRange
  await readAll(r, urls, bytes)
  assert.is(src.calls.readRange - before, 0, 'the second read is served from the working directory')
  await r.close()

  const other = freshPath()
  await writeFile(other, 'nor this')
  const none = new BlockReader({ sources: [src], disk: { dirs: [{ path: broken }, { path: other }] } })
  try {
    await none.ready()
    assert.unreachable('ready() should reject when no directory can be used')
  } catch (err) {
    errorLike(CacheError, { code: 'ERR_SLUICE_CACHE' })(err)
    assert.match((err as Error).message, /no cache directory can be used/)
  }
  await none.close().catch(() => {})
})

/** A version of `url` whose block 0 has its home in directory `dir` of `placement`. */
function versionHomedIn(placement: Placement, url: string, dir: number, tag: string): string {
  for (let n = 0; ; n++) {
    const version = `"${tag}-${n}"`
    if (placement.order(blockKey(objectId(url, version, BLOCK, 10), 0))[0] === dir) return version
  }
}

test('catalogue: directories that disagree answer with the newest version; ids come from every directory; deletion reaches them all', async () => {
  const dirs = [{ path: freshPath(), maxBytes: 4 * MiB }, { path: freshPath(), maxBytes: 4 * MiB }]
  const set = new DiskSet({ dirs, blockSize: BLOCK })
  await set.init()
  const placement = new Placement(dirs)
  const url = 's3://b/one-block'
  // The older version in the first directory, the newer in the second: list order would pick the old one.
  const v1 = versionHomedIn(placement, url, 0, 'old')
  const v2 = versionHomedIn(placement, url, 1, 'new')
  const id1 = objectId(url, v1, BLOCK, 10)
  const id2 = objectId(url, v2, BLOCK, 10)
  assert.ok(await set.put(blockKey(id1, 0), patternBytes(10, 1), { url, version: v1, size: 10, blockSize: BLOCK, mtimeMs: 1000 }))
  assert.ok(await set.put(blockKey(id2, 0), patternBytes(10, 2), { url, version: v2, size: 10, blockSize: BLOCK, mtimeMs: 2000 }))
  assert.equal(set.stats().dirs!.map((d) => d.entries), [1, 1], 'one version in each directory')
  assert.is(set.catalog.lastKnownVersion(url)?.version, v2)
  assert.equal(set.catalog.lastKnownUnder('s3://b/').map((o) => [o.url, o.version]), [[url, v2]])
  const ids = set.catalog.objectsForUrl(url).map((id) => Buffer.from(id).toString('hex')).sort()
  assert.equal(ids, [id1, id2].map((id) => Buffer.from(id).toString('hex')).sort())
  let removed = 0
  for (const id of set.catalog.objectsForUrl(url)) removed += await set.deletePrefix(id)
  assert.is(removed, 2)
  assert.equal(set.stats().dirs!.map((d) => [d.entries, d.objects]), [[0, 0], [0, 0]], 'no block and no record left in any directory')
  assert.is(set.catalog.lastKnownVersion(url), undefined)
  await set.close()
})

test('eviction finds a version held only in a directory bypassed for now, and removes it', async () => {
  const dirs = [{ path: freshPath(), maxBytes: 4 * MiB }, { path: freshPath(), maxBytes: 4 * MiB }]
  const set = new DiskSet({ dirs, blockSize: BLOCK, health: { maxConsecutiveErrors: 1, cooldownMs: 60_000 } })
  await set.init()
  const url = 's3://b/bypassed'
  const v1 = versionHomedIn(new Placement(dirs), url, 0, 'held')
  const id = objectId(url, v1, BLOCK, 10)
  assert.ok(await set.put(blockKey(id, 0), patternBytes(10, 1), { url, version: v1, size: 10, blockSize: BLOCK, mtimeMs: 1000 }))
  // The directory holding it fails once (its health allows one): bypassed for a minute, its LMDB still readable.
  ;(set as unknown as { dirs: { health: { failure(err: unknown): void } }[] }).dirs[0]!.health.failure(new Error('injected'))
  assert.is(set.stats().dirs![0]!.healthy, false)
  const ids = set.catalog.objectsForUrl(url)
  assert.equal(ids.map((i) => Buffer.from(i).toString('hex')), [Buffer.from(id).toString('hex')], 'the bypassed directory was asked')
  assert.is(await set.deletePrefix(ids[0]!), 1)
  await set.close()
})

test('a changed object read through the reader: evict leaves no block of any version in any directory', async () => {
  const src = new MemorySource()
  const dirs = [{ path: freshPath() }, { path: freshPath() }]
  const r = new BlockReader({ sources: [src], blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { dirs } })
  const urls = Array.from({ length: 8 }, (_, i) => `mem://changing/${i}`)
  for (const [n, seed] of ['v1', 'v2'].entries()) {
    for (const url of urls) {
      const b = patternBytes(3 * BLOCK, `${url}-${seed}`)
      src.put(url, b, { mtimeMs: 1000 * (n + 1) })
      const h = await r.open(url)
      assert.ok(Buffer.from(await h.read(0, h.size)).equals(b))
      await h.close()
    }
  }
  await r.flush()
  assert.is(diskOf(r).entries, 8 * 3 * 2, 'both versions of every object cached')
  assert.ok(dirsOf(r).every((d) => d.entries > 0))
  for (const url of urls) assert.is(r.cache.catalog!.lastKnownVersion(url)?.version, (await src.stat(url)).version)
  let removed = 0
  for (const url of urls) removed += await r.evict(url)
  assert.is(removed, 48)
  assert.equal(dirsOf(r).map((d) => [d.entries, d.usedBytes, d.objects]), [[0, 0, 0], [0, 0, 0]])
  await r.close()
})

test('a block whose home is bypassed is stored in the next directory and read from there', async () => {
  const dirs = [{ path: freshPath(), maxBytes: 4 * MiB }, { path: freshPath(), maxBytes: 4 * MiB }]
  const placement = new Placement(dirs)
  const set = new DiskSet({ dirs, blockSize: BLOCK, health: { maxConsecutiveErrors: 1, cooldownMs: 60_000 } })
  await set.init()
  const id = objectId('s3://b/k', '"e"', BLOCK, 1 << 20)
  let key = blockKey(id, 0)
  for (let i = 1; placement.order(key)[0] !== 0; i++) key = blockKey(id, i)
  // A block larger than any directory's bound is a refusal, not a failure: it stays refused.
  assert.is(await set.put(key, Buffer.alloc(5 * MiB)), false)
  assert.equal(set.stats().dirs!.map((d) => d.entries), [0, 0])
  assert.ok(set.stats().dirs!.every((d) => d.healthy), 'a refusal does not mark the directory failing')
  // Close the home's LMDB environment behind the set's back: its next write fails in LMDB
  // itself (a full or failing disk is in disk-set-full.test.ts, which needs root).
  await (set as unknown as { dirs: { store: { close(): Promise<void> } }[] }).dirs[0]!.store.close()
  const bytes = patternBytes(BLOCK, 'fallback')
  assert.is(await set.put(key, bytes), true, 'the next directory took it')
  const [home, next] = set.stats().dirs!
  assert.is(home!.healthy, false)
  assert.is(next!.entries, 1)
  assert.ok(Buffer.from(set.getSync(key)!).equals(bytes))
  assert.ok(set.has(key))
  await set.close().catch(() => {})
})

test('disk.dirs options: checked with messages that name the option', () => {
  const cases: [BlockReaderOptions, RegExp][] = [
    [{ cacheDir: '/tmp/a', disk: { dirs: [{ path: '/tmp/b' }] } }, /cacheDir and disk\.dirs exclude each other/],
    [{ disk: { maxBytes: 2 * MiB, dirs: [{ path: '/tmp/b' }] } }, /disk\.maxBytes and disk\.dirs exclude each other/],
    [{ disk: { dirs: [] } }, /disk\.dirs must list at least one directory/],
    [{ disk: { dirs: '/tmp/a' } } as unknown as BlockReaderOptions, /disk\.dirs must be an array/],
    [{ disk: { dirs: [{ path: '/tmp/a' }, { path: '/tmp/b' }, { path: '/tmp/a/' }] } }, /disk\.dirs\[2\]\.path names the same directory as disk\.dirs\[0\]\.path/],
    [{ disk: { dirs: [{ path: '' }] } }, /disk\.dirs\[0\]\.path must be a non-empty string/],
    [{ disk: { dirs: [null] } } as unknown as BlockReaderOptions, /disk\.dirs\[0\] must be an object/],
    [{ disk: { dirs: [{ path: '/tmp/a', size: 1 }] } } as unknown as BlockReaderOptions, /unknown option disk\.dirs\[0\]\.size/],
  ]
  for (const [options, message] of cases) assert.throws(() => new BlockReader(options), errorLike(TypeError, message))
  assert.throws(() => new BlockReader({ disk: { dirs: [{ path: '/tmp/a', maxBytes: 1000 }] } }), errorLike(RangeError, /disk\.dirs\[0\]\.maxBytes must be in/))
})

test('disk.dirs with one directory is that directory, as cacheDir with disk.maxBytes', async () => {
  const path = freshPath()
  const r = new BlockReader({ disk: { dirs: [{ path, maxBytes: 2 * MiB }] } })
  await r.ready()
  const disk = diskOf(r)
  assert.is(disk.maxBytes, 2 * MiB)
  assert.is(disk.dirs, undefined, 'the LMDB store itself, with no directory list')
  assert.is(r.cacheDir, path)
  await r.close()
})

test.run()
