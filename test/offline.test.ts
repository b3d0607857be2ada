/**
 * The outage policy. With `offline: 'stale-ok'`, objects already resident stay readable from
 * the cache while the store is unreachable (their last known version is remembered in the
 * disk tier); with the default `'strict'`, open fails and says the store is unreachable.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, KiB, type BlockReaderOptions } from '../lib/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3 } from './support/s3.js'

test('stale-ok serves resident objects through an outage; strict reports the store unreachable', async () => {
  const s3 = await startTestS3(['data'])
  const dir = await mkdtemp(join(tmpdir(), 'sluice-offline-'))
  const bytes = patternBytes(300 * KiB, 'offline')
  const options = (offline: 'strict' | 'stale-ok'): BlockReaderOptions => ({
    s3: s3.server.s3,
    cacheDir: join(dir, 'cache'),
    blockSize: 64 * KiB,
    offline,
    // No read-ahead, so 'partial' really is only partly resident.
    prefetch: { maxReadAheadBytes: 0 },
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, requestTimeoutMs: 2000 },
  })
  try {
    await s3.put('data', 'set/a', bytes)
    await s3.put('data', 'set/partial', patternBytes(300 * KiB, 'partial'))
    await s3.put('data', 'set/_SUCCESS', new Uint8Array(0))
    const warm = new BlockReader(options('stale-ok'))
    await (await warm.open('s3://data/set/a')).read(0, bytes.length)
    await (await warm.open('s3://data/set/partial')).read(0, 64 * KiB)
    await warm.open('s3://data/set/_SUCCESS') // empty: nothing to read, but known
    await warm.close()
    await s3.close() // the store goes away

    const stale = new BlockReader(options('stale-ok'))
    const h = await stale.open('s3://data/set/a')
    assert.ok(Buffer.from(await h.read(0, bytes.length)).equals(bytes), 'resident bytes through the outage')
    assert.equal((await stale.list('s3://data/set/')).map((o) => o.url), ['s3://data/set/_SUCCESS', 's3://data/set/a', 's3://data/set/partial'])
    assert.is((await stale.open('s3://data/set/_SUCCESS')).size, 0, 'an empty object is known through the outage')
    assert.is(stale.stats().source.gets, 0)
    assert.ok((stale.stats().source.staleAnswers ?? 0) >= 2)
    const partial = await stale.open('s3://data/set/partial')
    assert.is(partial.size, 300 * KiB)
    await partial.read(0, 64 * KiB)
    try {
      await partial.read(200 * KiB, 10)
      assert.unreachable('non-resident bytes during an outage')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_SLUICE_UNREACHABLE', (err as Error).message)
    }
    await stale.close()

    const strict = new BlockReader(options('strict'))
    try {
      await strict.open('s3://data/set/a')
      assert.unreachable('strict opened during an outage')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_SLUICE_UNREACHABLE')
      assert.match((err as Error).message, /unreachable/)
    }
    await strict.close()
    assert.throws(() => new BlockReader({ offline: 'maybe' as never }), /offline/)
  } finally {
    await s3.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
