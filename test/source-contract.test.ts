/**
 * One contract, every Source: S3 (real s3rver on loopback), HTTP (the same server, unsigned
 * GETs), local files and the in-memory double. Each must return exact ranges pinned to the
 * version, refuse a changed object, report missing objects with ERR_SLUICE_NOT_FOUND, and
 * list everything under a prefix across pages.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile, utimes, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSource, HttpSource, MemorySource, S3Source, type Source, type ObjectInfo } from '../lib/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3, type TestS3 } from './support/s3.js'

interface Fixture {
  name: string
  source: Source
  /** URL of an object named `name` (relative key). */
  url(key: string): string
  put(key: string, bytes: Uint8Array): Promise<void>
  canList: boolean
  close(): Promise<void>
}

let s3: TestS3
let dir: string
const memory = new MemorySource()

const fixtures: (() => Promise<Fixture>)[] = [
  async () => ({
    name: 'S3Source',
    source: new S3Source({ ...s3.server.s3, listPageSize: 2 }),
    url: (k) => `s3://data/${k}`,
    put: (k, b) => s3.put('data', k, b),
    canList: true,
    close: async () => {},
  }),
  async () => ({
    name: 'HttpSource',
    source: new HttpSource(),
    url: (k) => `${s3.server.endpoint}/data/${k}`,
    put: (k, b) => s3.put('data', k, b),
    canList: false,
    close: async () => {},
  }),
  async () => ({
    name: 'FileSource',
    source: new FileSource(),
    url: (k) => `file://${join(dir, k)}`,
    put: async (k, b) => {
      const path = join(dir, k)
      await mkdir(join(path, '..'), { recursive: true })
      await writeFile(path, b)
      // A rewrite within one timestamp tick must still change the version.
      const t = new Date(Date.now() + Math.floor(Math.random() * 1e6))
      await utimes(path, t, t)
    },
    canList: true,
    close: async () => {},
  }),
  async () => ({
    name: 'MemorySource',
    source: memory,
    url: (k) => `mem://data/${k}`,
    put: async (k, b) => void memory.put(`mem://data/${k}`, b),
    canList: true,
    close: async () => {},
  }),
]

const setup = suite('Source contract')
setup.before(async () => {
  s3 = await startTestS3(['data'])
  dir = await mkdtemp(join(tmpdir(), 'sluice-src-'))
})
setup.after(async () => {
  await s3.close()
  await rm(dir, { recursive: true, force: true })
})

for (const make of fixtures) {
  let f: Fixture
  const bytes = patternBytes(300_001, 'contract')
  setup(`${make.name ?? 'source'}: exact ranges pinned to the version`, async () => {
    f = await make()
    await f.put('a/obj', bytes)
    const info = await f.source.stat(f.url('a/obj'))
    assert.is(info.size, bytes.length, `${f.name} size`)
    assert.ok(info.version.length > 0, `${f.name} version`)
    for (const [s, e] of [[0, 1], [0, 2], [1, 100_000], [299_000, 300_001], [123_456, 200_000], [0, bytes.length]] as const) {
      const got = await f.source.readRange(info, s, e)
      assert.is(got.length, e - s, `${f.name} length of [${s}, ${e})`)
      assert.ok(Buffer.from(got).equals(bytes.subarray(s, e)), `${f.name} bytes of [${s}, ${e})`)
    }
    const clamped = await f.source.readRange(info, 300_000, 400_000)
    assert.is(clamped.length, 1, `${f.name} clamps at the end`)
    assert.is((await f.source.readRange(info, 5, 5)).length, 0, `${f.name} empty range`)
  })

  setup(`${make.name}: a changed object is refused, not mixed`, async () => {
    f = await make()
    await f.put('a/changing', patternBytes(5000, 'old'))
    const old: ObjectInfo = await f.source.stat(f.url('a/changing'))
    await f.put('a/changing', patternBytes(5000, 'new'))
    try {
      await f.source.readRange(old, 0, 5000)
      assert.unreachable(`${f.name} served a changed object`)
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_SLUICE_OBJECT_CHANGED', `${f.name}: ${(err as Error).message}`)
    }
    const now = await f.source.stat(f.url('a/changing'))
    assert.ok(Buffer.from(await f.source.readRange(now, 0, 5000)).equals(patternBytes(5000, 'new')))
  })

  setup(`${make.name}: missing objects are ERR_SLUICE_NOT_FOUND`, async () => {
    f = await make()
    try {
      await f.source.stat(f.url('no/such/object'))
      assert.unreachable()
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_SLUICE_NOT_FOUND', (err as Error).message)
      assert.match((err as Error).message, 'no/such/object')
    }
  })

  setup(`${make.name}: lists every object under a prefix, across pages`, async () => {
    f = await make()
    if (!f.canList) {
      try {
        await f.source.list(f.url('list/'))
        assert.unreachable()
      } catch (err) {
        assert.is((err as { code?: string }).code, 'ERR_SLUICE_UNSUPPORTED')
      }
      return
    }
    const keys = ['list/a', 'list/b/c', 'list/b/d', 'list/e', 'list/f/g/h']
    for (const k of keys) await f.put(k, patternBytes(10, k))
    await f.put('listx/other', patternBytes(10, 'x'))
    const listed = await f.source.list(f.url('list/'))
    assert.equal(listed.map((o) => o.url), keys.map((k) => f.url(k)), `${f.name} listing`)
    assert.ok(listed.every((o) => o.size === 10 && o.version.length > 0))
  })
}

setup('S3Source: a missing bucket is ERR_SLUICE_BUCKET_NOT_FOUND and bad credentials ERR_SLUICE_ACCESS_DENIED', async () => {
  const good = new S3Source(s3.server.s3)
  await s3.put('data', 'creds/x', patternBytes(10))
  for (const op of [() => good.stat('s3://nosuchbucket/x'), () => good.list('s3://nosuchbucket/')]) {
    try {
      await op()
      assert.unreachable()
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_SLUICE_BUCKET_NOT_FOUND', (err as Error).message)
      assert.match((err as Error).message, 'nosuchbucket')
    }
  }
  const bad = new S3Source({ ...s3.server.s3, credentials: { accessKeyId: 'AKIAWRONGKEY', secretAccessKey: 'wrong-secret-value' } })
  try {
    await bad.stat('s3://data/creds/x')
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_ACCESS_DENIED', (err as Error).message)
    assert.not.match((err as Error).message, 'wrong-secret-value')
  }
})

setup('S3Source: an unreachable endpoint is ERR_SLUICE_UNREACHABLE', async () => {
  const src = new S3Source({ ...s3.server.s3, endpoint: 'http://127.0.0.1:1' })
  try {
    await src.stat('s3://data/x')
    assert.unreachable()
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_UNREACHABLE', (err as Error).message)
  }
})

setup.run()
