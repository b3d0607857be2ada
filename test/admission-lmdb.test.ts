/**
 * The disk tier's admission policy end to end on LMDB: the scenarios of the policy's own
 * tests (admission-policy.test.ts) through a real LmdbBlockStore, filling on the reader's
 * thread and on the writer thread, then through a BlockReader; a restarted process and a
 * second process on the same directory; and the main queue's byte count, kept in the fill's
 * transaction, checked against the blocks themselves after evictions, deletions and clear().
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { BlockReader, LmdbBlockStore, MemorySource, KiB } from '../lib/index.js'
import { chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { bytesFetchedPerEpoch } from '../bench/admission.js'
import { BLOCK_DATA, dataset, passes } from './support/block-passes.js'
import { accounts } from './support/lmdb-accounts.js'

const test = suite('admission-lmdb')
const run = promisify(execFile)
const CHILD = fileURLToPath(new URL('./support/admission-child.js', import.meta.url))
/** A tier of exactly 64 test blocks. */
const TIER_BLOCKS = 64
const MAX_BYTES = TIER_BLOCKS * chargedBytes(BLOCK_DATA)
const repeat = <T>(x: T, n: number): T[] => Array.from({ length: n }, () => x)

let root: string
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-admission-'))
})
test.after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function store(path?: string, writerThread = false): Promise<LmdbBlockStore> {
  const s = new LmdbBlockStore({ path: path ?? (await mkdtemp(join(root, 'tier-'))), maxBytes: MAX_BYTES, blockSize: 64 * KiB, writerThread })
  await s.init()
  return s
}

const dataBlocks = (TIER_BLOCKS * 7) / 8

for (const writerThread of [false, true]) {
  const where = writerThread ? 'writer thread' : 'inline'

  test(`${where}: a new dataset that fits, after an old one was read five times, is resident by its second epoch`, async () => {
    const s = await store(undefined, writerThread)
    const fetched = await passes(s, [...repeat(dataset('a', dataBlocks), 5), ...repeat(dataset('b', dataBlocks), 3)])
    await s.close()
    assert.ok(fetched[6]! <= dataBlocks / 10, `B's second epoch fetched ${fetched[6]} of ${dataBlocks} (per epoch: ${fetched.join(' ')})`)
    assert.is(fetched[7], 0, `per epoch: ${fetched.join(' ')}`)
  })

  test(`${where}: a loop over twice the tier fetches at most 60% in every epoch after the first`, async () => {
    const s = await store(undefined, writerThread)
    const loop = dataset('loop', 2 * TIER_BLOCKS)
    const fetched = await passes(s, repeat(loop, 6))
    await s.close()
    for (const f of fetched.slice(1)) assert.ok(f <= 0.6 * loop.length, `per epoch: ${fetched.join(' ')}`)
  })

  test(`${where}: a hot set stays resident through a scan as large as the tier`, async () => {
    const s = await store(undefined, writerThread)
    const hot = dataset('hot', TIER_BLOCKS / 8)
    const fetched = await passes(s, [...repeat(hot, 3), [...hot, ...dataset('scan', TIER_BLOCKS)], ...repeat(hot, 2)])
    await s.close()
    assert.equal(fetched.slice(4), [0, 0], `per epoch: ${fetched.join(' ')}`)
  })
}

test('a restarted process (a fresh sketch) keeps hitting a loop over twice the tier', async () => {
  const path = await mkdtemp(join(root, 'tier-'))
  const loop = dataset('loop', 2 * TIER_BLOCKS)
  const first = await store(path)
  const before = await passes(first, repeat(loop, 3))
  await first.close()
  const again = await store(path)
  const after = await passes(again, repeat(loop, 3))
  await again.close()
  for (const f of after) assert.ok(f <= 0.6 * loop.length, `per epoch: ${before.join(' ')} | restart | ${after.join(' ')}`)
})

test('a restarted process reads a new dataset that fits: resident by its second epoch', async () => {
  const path = await mkdtemp(join(root, 'tier-'))
  const first = await store(path)
  await passes(first, repeat(dataset('a', dataBlocks), 5))
  await first.close()
  const again = await store(path)
  const fetched = await passes(again, repeat(dataset('b', dataBlocks), 2))
  await again.close()
  assert.ok(fetched[1]! <= dataBlocks / 10, `B fetched ${fetched.join(' ')} of ${dataBlocks}`)
})

test('a second process filling the same directory at the same time leaves usage and main exact', async () => {
  const path = await mkdtemp(join(root, 'tier-'))
  const first = await store(path)
  await passes(first, repeat(dataset('a', dataBlocks), 3))
  // Both fill at once: the child reads a dataset twice while this process brings in B twice.
  const child = run(process.execPath, [CHILD, path, String(MAX_BYTES), 'other', String(TIER_BLOCKS), '2'])
  const mine = await passes(first, repeat(dataset('b', dataBlocks), 2))
  const theirs = JSON.parse((await child).stdout) as { fetched: number[] }
  await first.close()
  assert.is(theirs.fetched[0], TIER_BLOCKS, 'the child fetched its dataset once in full')
  assert.is(mine[0], dataBlocks)
  const after = await accounts(path)
  assert.ok(after.used <= MAX_BYTES, JSON.stringify(after))
  assert.equal([after.mainUsage, after.usage], [after.main, after.used], JSON.stringify(after))
})

test("main's bytes stay exact through promotions, evictions, deletions and clear()", async () => {
  const path = await mkdtemp(join(root, 'tier-'))
  const a = dataset('a', dataBlocks)
  const b = dataset('b', dataBlocks)
  const s = await store(path)
  // A proves itself and is promoted as B arrives; B displaces it down to the protected share.
  await passes(s, [...repeat(a, 3), b])
  assert.ok(await s.delete(a[a.length - 1]!), 'the newest block of A is still here, in main')
  assert.ok((await s.deletePrefix(b[0]!.subarray(0, 16))) > 0, 'B is here, in probation')
  await s.close()
  const kept = await accounts(path)
  assert.ok(kept.main > 0, `some blocks are in main: ${JSON.stringify(kept)}`)
  assert.equal([kept.mainUsage, kept.usage], [kept.main, kept.used], JSON.stringify(kept))
  const again = await store(path)
  await again.deletePrefix(a[0]!.subarray(0, 16))
  await passes(again, [dataset('c', TIER_BLOCKS)])
  await again.close()
  const after = await accounts(path)
  assert.equal([after.mainUsage, after.usage], [after.main, after.used], JSON.stringify(after))
  const cleared = await store(path)
  await cleared.clear()
  await cleared.close()
  assert.equal(await accounts(path), { usage: 0, mainUsage: 0, used: 0, main: 0 })
})

test('through a BlockReader: a new dataset that fits is resident by its second epoch, and a hot set survives a scan', async () => {
  const source = new MemorySource('mem')
  const object = Buffer.alloc(512 * KiB, 3)
  const urls = (name: string, n: number) => Array.from({ length: n }, (_, i) => source.put(`mem://admission/${name}/${i}`, object).url)
  const reader = new BlockReader({
    sources: [source],
    cacheDir: await mkdtemp(join(root, 'reader-')),
    blockSize: 64 * KiB,
    memory: { maxBytes: 512 * KiB },
    disk: { maxBytes: 4 * 1024 * KiB },
  })
  try {
    const a = urls('a', 7)
    const b = urls('b', 7)
    const fetched = (await bytesFetchedPerEpoch(reader, source, [...repeat(a, 5), ...repeat(b, 2)])).map((bytes) => bytes / object.length)
    assert.ok(fetched[6]! <= 0.7, `B's second epoch fetched ${fetched[6]} of 7 objects (per epoch: ${fetched.join(' ')})`)
    const hot = urls('hot', 1)
    const withScan = await bytesFetchedPerEpoch(reader, source, [...repeat(hot, 3), [...hot, ...urls('scan', 8)], hot])
    assert.is(withScan[4], 0, 'bytes of the hot set fetched again after the scan')
  } finally {
    await reader.close()
  }
})

test.run()
