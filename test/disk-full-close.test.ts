/**
 * Closing the disk tier on a full disk, with one cache directory on a small tmpfs the test
 * fills to the last byte (support/tmpfs.ts): close settles after a failed fill (lmdb-js never
 * settles the flush of a failed commit, and its close waited for it), readers get the right
 * bytes throughout, a later store or reader on the same directory finds only blocks that
 * verify, and stats read after close carry no error the close itself caused. Mounting the
 * tmpfs needs root; where it cannot be done those tests are skipped (counted) with the reason
 * printed. The last test, stats after close, needs no tmpfs.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, CacheError, KiB, MiB, type TierStats } from '../lib/index.js'
import { LmdbBlockStore, chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { patternBytes } from './support/data.js'
import { errorLike } from './support/expect-error.js'
import { settlesWithin } from './support/wait.js'
import { announceSkip, testUnless } from './support/skip.js'
import { startTestS3 } from './support/s3.js'
import { fillUp, removeTmpfsDir, tmpfsDir, tmpfsSkipReason } from './support/tmpfs.js'

const onTmpfs = testUnless(announceSkip('disk-full-close', 'the full-disk close tests', tmpfsSkipReason()))

for (const writerThread of [false, true]) onTmpfs(`a store whose disk filled up${writerThread ? ' (writer thread)' : ''}: close settles after a failed fill, and the next store finds only verified blocks`, async () => {
  const dir = await tmpfsDir('sluice-fullstore-', '8m')
  try {
    const BLOCK = 256 * KiB
    const path = join(dir, 'cache')
    const options = { path, maxBytes: 64 * MiB, blockSize: BLOCK, writerThread }
    const id = objectId('s3://b/full', '"e"', BLOCK, 4 * BLOCK)
    const keys = [0, 1, 2, 3].map((i) => blockKey(id, i))
    const blocks = keys.map((_, i) => patternBytes(BLOCK, `full${i}`))
    const store = new LmdbBlockStore(options)
    await store.init()
    for (let i = 0; i < 3; i++) assert.is(await store.put(keys[i]!, blocks[i]!), true)
    for (let i = 0; i < 3; i++) assert.ok(Buffer.from(store.getSync(keys[i]!)!).equals(blocks[i]!), `block ${i}`)
    // The counts are saved now, so that the failed fill below is the store's last write.
    await store.saveRecorded()
    await fillUp(join(dir, 'filler'))
    try {
      await store.put(keys[3]!, blocks[3]!)
      assert.unreachable('a fill on a full disk fails')
    } catch (err) {
      errorLike(CacheError, /write to .* failed/)(err)
    }
    assert.is(store.has(keys[3]!), false, 'nothing of the failed fill is kept')
    for (let i = 0; i < 3; i++) assert.ok(Buffer.from(store.verifySync(keys[i]!)!).equals(blocks[i]!), `block ${i} on the full disk`)
    await settlesWithin(store.close(), 'the store to close on a full disk')
    const closed = store.stats()
    assert.is(closed.errors, 0, `no error (${closed.lastError})`)
    assert.is(closed.entries, 3)
    assert.is(closed.hits, 3)

    await rm(join(dir, 'filler'))
    const next = new LmdbBlockStore(options)
    try {
      await next.init()
      assert.equal(next.usage(), { usedBytes: 3 * chargedBytes(BLOCK), maxBytes: 64 * MiB, entries: 3 })
      for (let i = 0; i < 3; i++) assert.ok(Buffer.from(next.verifySync(keys[i]!)!).equals(blocks[i]!), `block ${i} verifies`)
      assert.is(next.has(keys[3]!), false)
      assert.is(await next.put(keys[3]!, blocks[3]!), true, 'space back: the block the full disk refused is stored')
      assert.ok(Buffer.from(next.getSync(keys[3]!)!).equals(blocks[3]!))
    } finally {
      await settlesWithin(next.close(), 'the next store to close')
    }
  } finally {
    await removeTmpfsDir(dir)
  }
})

const diskOf = (reader: BlockReader): TierStats => reader.stats().tiers.find((t) => t.name === 'disk')!

onTmpfs('a reader whose disk fills up (writer thread, as a mount has it): right bytes throughout, close settles, a later reader finds only verified blocks', async () => {
  const dir = await tmpfsDir('sluice-fullclose-', '16m')
  const s3 = await startTestS3(['data'])
  try {
    const BLOCK = 1 * MiB
    const big = patternBytes(10 * BLOCK, 'big')
    await s3.put('data', 'big', big)
    const cacheDir = join(dir, 'cache')
    // Room for a few blocks, then none: some fills land, the rest fail.
    await writeFile(join(dir, 'filler'), Buffer.alloc(12 * MiB))
    const options = { s3: s3.server.s3, cacheDir, blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { maxBytes: 64 * MiB, writerThread: true } }
    const reader = new BlockReader(options)
    const h = await reader.open('s3://data/big')
    assert.ok(Buffer.from(await h.read(0, big.length)).equals(big), 'bytes from the store while the disk fills')
    await reader.flush()
    await fillUp(join(dir, 'filler2'))
    assert.ok(Buffer.from(await h.read(0, big.length)).equals(big), 'bytes on a full disk')
    await reader.flush()
    const before = diskOf(reader)
    assert.ok(before.errors > 0, 'the failed fills are counted')
    assert.ok(before.entries > 0 && before.entries < 10, `some blocks landed before the disk filled (${before.entries})`)
    await settlesWithin(reader.close(), 'the reader to close on a full disk')
    const after = diskOf(reader)
    assert.is(after.errors, before.errors, 'closing adds no error')
    assert.is(after.entries, before.entries)

    await rm(join(dir, 'filler'))
    await rm(join(dir, 'filler2'))
    const later = new BlockReader(options)
    const l = await later.open('s3://data/big')
    assert.ok(Buffer.from(await l.read(0, big.length)).equals(big), 'bytes through the later reader')
    await later.flush()
    const met = diskOf(later)
    assert.is(met.hits, before.entries, 'the later reader was served every block the full disk kept')
    assert.is(met.errors, 0, 'and none of them was damaged')
    await settlesWithin(later.close(), 'the later reader to close')

    // Every block the directory holds verifies, and its counters match what it holds.
    const store = new LmdbBlockStore({ path: cacheDir, maxBytes: 64 * MiB, blockSize: BLOCK })
    try {
      const [id, ...others] = store.objectsForUrl('s3://data/big')
      assert.ok(id !== undefined && others.length === 0, 'one object recorded')
      for (let i = 0; i < 10; i++) {
        const data = store.verifySync(blockKey(id!, i))
        assert.ok(data !== undefined && Buffer.from(data).equals(big.subarray(i * BLOCK, (i + 1) * BLOCK)), `block ${i} verifies and holds its bytes`)
      }
      assert.equal(store.usage(), { usedBytes: 10 * chargedBytes(BLOCK), maxBytes: 64 * MiB, entries: 10 })
    } finally {
      await store.close()
    }
  } finally {
    await s3.close()
    await removeTmpfsDir(dir)
  }
})

test('stats read after close: the last figures, and no error from reading a closed directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-closedstats-'))
  const s3 = await startTestS3(['data'])
  try {
    const BLOCK = 1 * MiB
    const bytes = patternBytes(3 * BLOCK, 'closed')
    await s3.put('data', 'obj', bytes)
    const reader = new BlockReader({ s3: s3.server.s3, cacheDir: join(dir, 'cache'), blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { maxBytes: 64 * MiB } })
    const h = await reader.open('s3://data/obj')
    assert.ok(Buffer.from(await h.read(0, bytes.length)).equals(bytes))
    await reader.flush()
    const before = diskOf(reader)
    assert.is(before.objects, 1)
    await reader.close()
    const after = diskOf(reader)
    assert.is(after.errors, 0, `no error (${after.lastError})`)
    assert.is(after.lastError, undefined)
    assert.is(after.healthy, true)
    assert.is(after.objects, 1, 'the object count as of close')
    assert.is(after.entries, before.entries)
    assert.is(after.usedBytes, before.usedBytes)
  } finally {
    await s3.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
