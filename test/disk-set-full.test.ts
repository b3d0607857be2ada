/**
 * A disk tier over two directories, one of them on a small tmpfs that fills up: readers get
 * the right bytes and no error, the full directory reports itself failing while the other
 * serves and takes every block (those whose home is the full one included), and the full one
 * takes blocks again once space returns; reads of its resident blocks between failing fills
 * do not keep it from being bypassed. Mounting the tmpfs needs root; where it cannot be
 * done the tests are skipped (counted) with the reason printed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, DiskSet, KiB, MemorySource, type DiskDirStats } from '../lib/index.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { Placement } from '../lib/cache/disk-placement.js'
import { patternBytes } from './support/data.js'
import { settlesWithin, waitFor } from './support/wait.js'
import { announceSkip, testUnless } from './support/skip.js'
import { fillUp, removeTmpfsDir, tmpfsDir, tmpfsSkipReason } from './support/tmpfs.js'

const it = testUnless(announceSkip('disk-set-full', 'the full-directory tests', tmpfsSkipReason()))
const BLOCK = 256 * KiB

for (const writerThread of [false, true]) it(`one directory full${writerThread ? ' (writer threads)' : ''}: readers see no error, the other directory serves and fills, the full one recovers`, async () => {
  const small = await tmpfsDir('sluice-setfull-', '8m')
  const roomy = await mkdtemp(join(tmpdir(), 'sluice-setroomy-'))
  try {
    const src = new MemorySource()
    const objects = Array.from({ length: 4 }, (_, i) => {
      const bytes = patternBytes(8 * BLOCK, `full${i}`)
      return { url: src.put(`mem://full/${i}`, bytes).url, bytes }
    })
    const full = join(small, 'cache')
    const dirs = [{ path: full, maxBytes: 64 * 1024 * KiB }, { path: join(roomy, 'cache'), maxBytes: 64 * 1024 * KiB }]
    const reader = new BlockReader({ sources: [src], blockSize: BLOCK, memory: { maxBytes: 0 }, disk: { dirs, retryAfterMs: 100, writerThread } })
    await reader.ready() // both environments open before the disk fills
    await fillUp(join(small, 'filler'))
    const readAll = async () => {
      for (const o of objects) {
        const h = await reader.open(o.url)
        assert.ok(Buffer.from(await h.read(0, h.size)).equals(o.bytes), `bytes of ${o.url}`)
        await h.close()
      }
      await reader.flush()
    }
    const dirStats = (): DiskDirStats[] => reader.stats().tiers.find((t) => t.name === 'disk')!.dirs!

    await readAll()
    const [failing, serving] = dirStats()
    assert.is(failing!.healthy, false, 'the full directory reports itself failing')
    assert.ok(failing!.errors > 0)
    assert.match(failing!.lastError ?? '', /write to .* failed/)
    assert.is(failing!.entries, 0)
    assert.is(serving!.healthy, true)
    assert.is(serving!.entries, 32, 'every block went to the other directory, those whose home is full included')
    assert.is(reader.stats().tiers.find((t) => t.name === 'disk')!.healthy, true, 'the tier serves while a directory does')
    const fetched = src.calls.readRange
    await readAll()
    assert.is(src.calls.readRange, fetched, 'the second read is served from the directory that works')

    await rm(join(small, 'filler'))
    // The full directory is tried again after its cool-down; new blocks whose home it is land there.
    let n = 0
    await waitFor('the full directory to take blocks again once space returns', async () => {
      const bytes = patternBytes(4 * BLOCK, `after${n}`)
      const h = await reader.open(src.put(`mem://after/${n++}`, bytes).url)
      assert.ok(Buffer.from(await h.read(0, h.size)).equals(bytes))
      await h.close()
      await reader.flush()
      const d = dirStats()[0]!
      return d.healthy && d.entries > 0
    }, { timeoutMs: 10_000 })
    await reader.close()
  } finally {
    await removeTmpfsDir(small)
    await rm(roomy, { recursive: true, force: true })
  }
})

it('a full directory whose blocks are still read is bypassed all the same: reads that work do not hide failing fills', async () => {
  const small = await tmpfsDir('sluice-setreads-', '8m')
  const roomy = await mkdtemp(join(tmpdir(), 'sluice-setroomy-'))
  try {
    const dirs = [{ path: join(small, 'cache'), maxBytes: 64 * 1024 * KiB }, { path: join(roomy, 'cache'), maxBytes: 64 * 1024 * KiB }]
    const set = new DiskSet({ dirs, blockSize: BLOCK, health: { maxConsecutiveErrors: 3, cooldownMs: 60_000 } })
    await set.init()
    const placement = new Placement(dirs)
    const id = objectId('s3://b/reads', '"e"', BLOCK, 1 << 30)
    const homedInFull: Uint8Array[] = []
    for (let i = 0; homedInFull.length < 4; i++) if (placement.order(blockKey(id, i))[0] === 0) homedInFull.push(blockKey(id, i))
    const [resident, ...fresh] = homedInFull
    const kept = patternBytes(BLOCK, 'kept')
    assert.is(await set.put(resident!, kept), true)
    await fillUp(join(small, 'filler'))
    for (const [i, key] of fresh.entries()) {
      assert.ok(Buffer.from(set.getSync(resident!)!).equals(kept), `the full directory still serves its block (${i})`)
      assert.is(await set.put(key, patternBytes(BLOCK, i)), true, 'stored in the other directory')
    }
    const [full, other] = set.stats().dirs!
    assert.is(full!.healthy, false, 'three failed fills in a row, reads between them notwithstanding')
    assert.is(full!.entries, 1)
    assert.is(other!.entries, 3)
    await settlesWithin(set.close(), 'the set to close with one directory still full')
  } finally {
    await removeTmpfsDir(small)
    await rm(roomy, { recursive: true, force: true })
  }
})

test.run()
