/**
 * A cache directory on a small filesystem that fills up (a tmpfs the test mounts): reads keep
 * returning the right bytes from the store, the disk tier reports itself unhealthy, and it
 * fills again once space returns. Needs to mount a tmpfs (root); where it cannot, the tests
 * are skipped (counted) with the reason printed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BlockReader, MiB } from '../lib/index.js'
import { patternBytes } from './support/data.js'
import { waitFor } from './support/wait.js'
import { announceSkip, testUnless } from './support/skip.js'
import { startTestS3 } from './support/s3.js'
import { removeTmpfsDir, tmpfsDir, tmpfsSkipReason } from './support/tmpfs.js'

const it = testUnless(announceSkip('disk-full', 'the disk-full tests', tmpfsSkipReason()))

for (const writerThread of [false, true]) it(`a full disk${writerThread ? ' (writer thread)' : ''}: reads stay correct, the tier reports unhealthy, and recovers when space returns`, async () => {
  const dir = await tmpfsDir('sluice-full-', '16m')
  const s3 = await startTestS3(['data'])
  try {
    const big = patternBytes(10 * MiB, 'big')
    const small = patternBytes(2 * MiB, 'small')
    await s3.put('data', 'big', big)
    await s3.put('data', 'small', small)
    await writeFile(join(dir, 'filler'), Buffer.alloc(12 * MiB))
    const reader = new BlockReader({
      s3: s3.server.s3,
      cacheDir: join(dir, 'cache'),
      blockSize: 1 * MiB,
      memory: { maxBytes: 0 },
      disk: { maxBytes: 64 * MiB, retryAfterMs: 100, writerThread },
    })
    const h = await reader.open('s3://data/big')
    assert.ok(Buffer.from(await h.read(0, big.length)).equals(big), 'bytes from the store while the disk is full')
    await reader.flush()
    const disk = reader.stats().tiers.find((t) => t.name === 'disk')!
    assert.ok(disk.errors > 0, 'write failures are counted')
    assert.is(disk.healthy, false, 'the tier reports itself unhealthy')
    assert.match(disk.lastError ?? '', /write to .* failed/)
    assert.ok(disk.usedBytes <= disk.maxBytes)
    // Every block the tier kept is intact: a second reader verifies each one it serves.
    assert.ok(Buffer.from(await h.read(0, big.length)).equals(big))

    await rm(join(dir, 'filler'))
    const s = await reader.open('s3://data/small')
    const readSmall = async () => {
      assert.ok(Buffer.from(await s.read(0, small.length)).equals(small))
      await reader.flush()
    }
    // The tier is bypassed until its cool-down (retryAfterMs) ends; the first fill after that
    // succeeds and makes it healthy. Each read that misses offers the tier a fill.
    await waitFor('the disk tier to be healthy again once writes succeed', async () => {
      await readSmall()
      return reader.stats().tiers.find((t) => t.name === 'disk')!.healthy
    }, { timeoutMs: 10_000 })
    // The cool-down may have ended between the blocks of one read: fill any block still missing.
    await readSmall()
    const gets = reader.stats().source.gets
    assert.ok(Buffer.from(await s.read(0, small.length)).equals(small))
    assert.is(reader.stats().source.gets, gets, 'served from the recovered tier')
    await reader.close()
  } finally {
    await s3.close()
    await removeTmpfsDir(dir)
  }
})

test.run()
