/**
 * Closing the disk tier: stats read after close carry the last figures and no error the
 * close itself caused (a closed LMDB environment can no longer be read).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, MiB, type TierStats } from '../lib/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3 } from './support/s3.js'

const diskOf = (reader: BlockReader): TierStats => reader.stats().tiers.find((t) => t.name === 'disk')!

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
