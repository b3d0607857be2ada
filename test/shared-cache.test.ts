/**
 * Two processes on one cacheDir (say a FUSE daemon and a training process): both read and
 * fill the same LMDB tier concurrently, each then finds the other's blocks with zero GETs
 * and reads the right bytes, and the usage counter is exactly the sum of what both stored.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { BlockReader, type ReaderStats } from '../lib/index.js'
import { chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { patternBytes } from './support/data.js'
import { startTestS3 } from './support/s3.js'

const run = promisify(execFile)
const CHILD = fileURLToPath(new URL('./support/cache-child.js', import.meta.url))
const BS = 256 * 1024

test('two processes share one cache directory with exact usage', async () => {
  const s3 = await startTestS3(['data'])
  const dir = await mkdtemp(join(tmpdir(), 'sluice-shared-'))
  try {
    const sizes: Record<string, number> = { a: 1_500_000, b: 1_300_001, c: 700_000 }
    for (const [k, n] of Object.entries(sizes)) await s3.put('data', k, patternBytes(n, k))
    const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
    // The child reports what it read as digests; each must be the object's.
    const child = async (...urls: string[]) => {
      const r = await run(process.execPath, [CHILD, dir, JSON.stringify(s3.server.s3), ...urls], {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      })
      const out = JSON.parse(r.stdout) as { stats: ReaderStats; sha256: Record<string, string> }
      for (const url of urls) {
        const key = url.replace('s3://data/', '')
        assert.is(out.sha256[url], sha256(patternBytes(sizes[key]!, key)), `the child read ${url} right`)
      }
      return out.stats
    }

    const parent = new BlockReader({ cacheDir: dir, s3: s3.server.s3, blockSize: BS, memory: { maxBytes: 0 } })
    const readHere = async (url: string) => {
      const h = await parent.open(url)
      return Buffer.from(await h.read(0, h.size))
    }
    // Fill concurrently: the child takes a and c, this process b.
    const [childStats, b] = await Promise.all([child('s3://data/a', 's3://data/c'), readHere('s3://data/b')])
    assert.ok(childStats.source.gets > 0)
    assert.ok(b.equals(patternBytes(sizes.b!, 'b')))
    await parent.cache.flush()

    const getsBefore = parent.stats().source.gets
    assert.ok((await readHere('s3://data/a')).equals(patternBytes(sizes.a!, 'a')))
    assert.is(parent.stats().source.gets, getsBefore, "this process reads the child's blocks with zero GETs")
    const second = await child('s3://data/b')
    assert.is(second.source.gets, 0, "the child reads this process's blocks with zero GETs")
    assert.is(second.source.bytes, 0, 'and no bytes from the source')

    const expected = Object.values(sizes).reduce((sum, size) => {
      for (let o = 0; o < size; o += BS) sum += chargedBytes(Math.min(BS, size - o))
      return sum
    }, 0)
    const disk = parent.stats().tiers.find((t) => t.name === 'disk')!
    assert.is(disk.usedBytes, expected, 'usage is the exact sum of both processes\' blocks')
    await parent.close()

    // Each process recorded its counts in the directory; a later reader sees their sum.
    const diskOf = (s: ReaderStats) => s.tiers.find((t) => t.name === 'disk')!
    const parentDisk = diskOf(parent.stats())
    const later = new BlockReader({ cacheDir: dir, s3: s3.server.s3, blockSize: BS, memory: { maxBytes: 0 } })
    try {
      await later.preload([], { dryRun: true }) // the disk tier is open
      const recorded = diskOf(later.stats()).recorded!
      const all = [diskOf(childStats), diskOf(second), parentDisk]
      assert.is(recorded.hits, all.reduce((n, t) => n + t.hits, 0), 'hits of all three processes')
      assert.is(recorded.misses, all.reduce((n, t) => n + t.misses, 0), 'misses of all three processes')
      assert.is(recorded.hitBytes, all.reduce((n, t) => n + t.hitBytes, 0))
      assert.ok(recorded.hits > 0 && recorded.misses > 0)
      assert.is(diskOf(later.stats()).hits, 0, "this process's own counters start at zero")
    } finally {
      await later.close()
    }
  } finally {
    await s3.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
