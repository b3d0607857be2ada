/**
 * The ObjectReader / ObjectHandle contract of lib/types.ts, one suite run against BlockReader
 * over each kind of store: a MemorySource, a real S3 server (s3rver on loopback) and files in
 * a temporary directory. The front ends (loaders, FUSE, CLI) program against this contract
 * only, so whatever store is underneath must give them the same answers: handles pinned to the
 * version stat reports, reads short only at the end, readInto writing exactly what it reports,
 * chunks covering exactly [start, end), prefetch saying how far it got, closed things
 * refusing work, and missing or changed objects failing with their codes.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, ClosedError, KiB, NotFoundError, ObjectChangedError, type BlockReaderOptions } from '../lib/index.js'
import { MemorySource } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { startTestS3 } from './support/s3.js'
import { waitUntil } from './support/wait.js'

const BS = 16 * KiB

interface Store {
  url(key: string): string
  put(key: string, bytes: Uint8Array): Promise<void>
  remove(key: string): Promise<void>
  reader(options?: BlockReaderOptions): BlockReader
  close(): Promise<void>
}

async function memoryStore(): Promise<Store> {
  const source = new MemorySource()
  return {
    url: (key) => `mem://contract/${key}`,
    put: async (key, bytes) => void source.put(`mem://contract/${key}`, bytes),
    remove: async (key) => source.delete(`mem://contract/${key}`),
    reader: (options = {}) => new BlockReader({ blockSize: BS, ...options, sources: [source] }),
    close: async () => {},
  }
}

async function s3Store(): Promise<Store> {
  const s3 = await startTestS3(['contract'])
  return {
    url: (key) => `s3://contract/${key}`,
    put: (key, bytes) => s3.put('contract', key, bytes),
    remove: (key) => s3.remove('contract', key),
    reader: (options = {}) => new BlockReader({ blockSize: BS, ...options, s3: s3.server.s3 }),
    close: () => s3.close(),
  }
}

async function fileStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-contract-'))
  const path = (key: string) => join(dir, key)
  return {
    url: (key) => `${pathToFileURL(dir).href}/${key}`,
    put: async (key, bytes) => {
      await mkdir(dirname(path(key)), { recursive: true })
      await writeFile(path(key), bytes)
    },
    remove: (key) => unlink(path(key)),
    reader: (options = {}) => new BlockReader({ blockSize: BS, ...options }),
    close: () => rm(dir, { recursive: true, force: true }),
  }
}

const A = patternBytes(3 * BS + 1234, 'contract-a') // three and a bit blocks
const B = patternBytes(1000, 'contract-b')

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>, what: string): Promise<Error & { code?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  assert.unreachable(`${what} should have rejected`)
  throw new Error('unreachable')
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; lengths: number[] }> {
  const parts: Buffer[] = []
  for await (const c of chunks) parts.push(Buffer.from(c))
  return { bytes: Buffer.concat(parts), lengths: parts.map((p) => p.length) }
}

function contract(name: string, makeStore: () => Promise<Store>): void {
  const test = suite(`ObjectReader contract: ${name}`)
  let store: Store
  /** A fresh reader per test, closed after it: no test sees another's cache. */
  let reader: BlockReader
  const url = (key: string) => store.url(key)

  test.before(async () => {
    store = await makeStore()
    await store.put('c/a.bin', A)
    await store.put('c/empty.bin', new Uint8Array(0))
    await store.put('c/sub/b.bin', B)
    await store.put('d/outside.bin', patternBytes(10, 'outside'))
  })
  test.after(() => store.close())
  test.before.each(() => {
    reader = store.reader()
  })
  test.after.each(() => reader.close())

  test('open pins the version stat reports; an ObjectInfo from list opens without a request', async () => {
    const info = await reader.stat(url('c/a.bin'))
    assert.equal([info.url, info.size], [url('c/a.bin'), A.length])
    assert.ok(info.version.length > 0, 'a version')
    const h = await reader.open(url('c/a.bin'))
    assert.equal([h.url, h.size, h.version], [info.url, info.size, info.version])
    assert.equal([h.info.url, h.info.size, h.info.version], [info.url, info.size, info.version])
    const listed = await reader.list(url('c/'))
    assert.equal(listed.map((i) => i.url), [url('c/a.bin'), url('c/empty.bin'), url('c/sub/b.bin')], 'everything under the prefix, sorted, nothing else')
    assert.equal(listed.map((i) => i.size), [A.length, 0, B.length])
    assert.is(listed[0]!.version, info.version)
    const requests = reader.stats().source.requests
    const pinned = await reader.open(listed[2]!)
    assert.is(reader.stats().source.requests, requests, 'no request to open a listed version')
    assert.equal(Buffer.from(await pinned.read(0, B.length)), B)
    assert.equal(await reader.list(url('c/none-')), [], 'a prefix matching nothing lists nothing')
  })

  test('read: exact bytes anywhere, short only at the end of the object', async () => {
    const h = await reader.open(url('c/a.bin'))
    const size = A.length
    const ranges: [number, number][] = [[0, 10], [BS - 3, 6], [5, 2 * BS + 9], [0, size], [BS, BS], [size - 1, 1], [17, 0]]
    for (const [pos, len] of ranges) assert.equal(Buffer.from(await h.read(pos, len)), A.subarray(pos, pos + len), `read(${pos}, ${len})`)
    assert.equal(Buffer.from(await h.read(size - 5, 100)), A.subarray(size - 5), 'short at the end')
    assert.is((await h.read(size, 10)).length, 0, 'nothing at the end')
    assert.is((await h.read(size + 100, 10)).length, 0, 'nothing past the end')
    const empty = await reader.open(url('c/empty.bin'))
    assert.equal([empty.size, (await empty.read(0, 10)).length], [0, 0])
    const bad = await rejection(h.read(-1, 10), 'read(-1)')
    assert.instance(bad, RangeError)
    assert.match(bad.message, /position must be a non-negative integer/)
  })

  test('read results stay as they were after later reads of the same and other blocks', async () => {
    const h = await reader.open(url('c/a.bin'))
    const first = await h.read(BS + 100, 500)
    const copy = Buffer.from(first)
    for (let pos = 0; pos < A.length; pos += 4000) await h.read(pos, 4000)
    await h.read(BS + 100, 500)
    assert.equal(Buffer.from(first), copy)
  })

  test('readInto writes exactly the bytes it reports at the offset, cold and warm', async () => {
    const h = await reader.open(url('c/a.bin'))
    for (const pass of ['cold', 'warm']) {
      const target = Buffer.alloc(BS * 3, 0xee)
      const n = await h.readInto(target, 7, BS - 50, 2 * BS)
      assert.is(n, 2 * BS, pass)
      assert.equal(target.subarray(7, 7 + n), A.subarray(BS - 50, BS - 50 + n), pass)
      assert.ok(target.subarray(0, 7).every((b) => b === 0xee) && target.subarray(7 + n).every((b) => b === 0xee), `${pass}: nothing outside`)
      const tail = Buffer.alloc(100, 0xee)
      assert.is(await h.readInto(tail, 0, A.length - 3, 100), 3, `${pass}: short only at the end`)
      assert.equal(tail.subarray(0, 3), A.subarray(A.length - 3))
      assert.ok(tail.subarray(3).every((b) => b === 0xee))
    }
  })

  test('chunks: in order, non-empty, exactly the object or exactly [start, end)', async () => {
    const h = await reader.open(url('c/a.bin'))
    const whole = await readAll(h.chunks())
    assert.equal(whole.bytes, A)
    assert.ok(whole.lengths.every((n) => n > 0 && n <= BS), `chunk lengths ${whole.lengths}`)
    for (const [start, end] of [[BS + 5, 2 * BS + 77], [100, 200], [0, A.length + 999], [3 * BS, A.length]] as const) {
      assert.equal((await readAll(h.chunks({ start, end }))).bytes, A.subarray(start, end), `chunks(${start}, ${end})`)
    }
    assert.is((await readAll(h.chunks({ start: 500, end: 500 }))).lengths.length, 0, 'an empty range yields nothing')
    const empty = await reader.open(url('c/empty.bin'))
    assert.is((await readAll(empty.chunks())).lengths.length, 0, 'an empty object yields nothing')
  })

  test('prefetch returns how far the range is now covered; what it fetched is read without another request', async () => {
    const h = await reader.open(url('c/a.bin'))
    assert.is(h.prefetch(BS, 0), BS, 'nothing asked, nothing covered')
    assert.is(h.prefetch(BS + 10, 2 * BS), 3 * BS + 10, 'with budget to spare, the whole range')
    assert.is(h.prefetch(2 * BS, 10 * BS), A.length, 'clamped to the object')
    await waitUntil(() => reader.stats().prefetch.inflightBytes === 0, 'the prefetches landed')
    const requests = reader.stats().source.requests
    assert.equal(Buffer.from(await h.read(BS + 10, 2 * BS)), A.subarray(BS + 10, 3 * BS + 10))
    assert.is(reader.stats().source.requests, requests)
    // Budget for one block: the range is covered as far as that block, and no further.
    const small = store.reader({ prefetch: { maxInflightBytes: BS } })
    try {
      const s = await small.open(url('c/a.bin'))
      const reached = s.prefetch(0, 3 * BS)
      assert.is(reached, BS, 'cut short where the budget ran out')
    } finally {
      await small.close()
    }
  })

  test('close: a closed handle refuses reads with ERR_SLUICE_CLOSED, twice is fine, and the reader counts it', async () => {
    const h = await reader.open(url('c/a.bin'))
    assert.is(reader.stats().openHandles, 1)
    await h.close()
    await h.close()
    assert.is(reader.stats().openHandles, 0)
    const err = await rejection(h.read(0, 10), 'read after close')
    assert.instance(err, ClosedError)
    assert.is(err.code, 'ERR_SLUICE_CLOSED')
    const chunkErr = await rejection(readAll(h.chunks()), 'chunks after close')
    assert.is(chunkErr.code, 'ERR_SLUICE_CLOSED')
    await reader.close()
    for (const [what, call] of [['open', () => reader.open(url('c/a.bin'))], ['stat', () => reader.stat(url('c/a.bin'))], ['list', () => reader.list(url('c/'))]] as const) {
      const closed = await rejection(call(), `${what} on a closed reader`)
      assert.instance(closed, ClosedError, what)
      assert.is(closed.code, 'ERR_SLUICE_CLOSED', what)
    }
  })

  test('a missing object: stat and open reject with ERR_SLUICE_NOT_FOUND naming the URL', async () => {
    // Each call is made when its rejection is awaited: an earlier one would reject unhandled.
    for (const [what, call] of [['stat', () => reader.stat(url('c/nope.bin'))], ['open', () => reader.open(url('c/nope.bin'))]] as const) {
      const err = await rejection(call(), what)
      assert.instance(err, NotFoundError, what)
      assert.is(err.code, 'ERR_SLUICE_NOT_FOUND', what)
      assert.ok(err.message.includes(url('c/nope.bin')), `${what}: ${err.message}`)
    }
  })

  test('changed underneath: a deleted object is ERR_SLUICE_NOT_FOUND, a rewritten one ERR_SLUICE_OBJECT_CHANGED', async () => {
    await store.put('c/gone.bin', B)
    await store.put('c/moved.bin', B)
    const gone = await reader.open(url('c/gone.bin'))
    const moved = await reader.open(url('c/moved.bin'))
    await store.remove('c/gone.bin')
    const rewritten = patternBytes(B.length + 1, 'rewritten')
    await store.put('c/moved.bin', rewritten)
    const missing = await rejection(gone.read(0, 10), 'read of a deleted object')
    assert.instance(missing, NotFoundError)
    assert.is(missing.code, 'ERR_SLUICE_NOT_FOUND')
    const changed = await rejection(moved.read(0, 10), 'read of a rewritten object')
    assert.instance(changed, ObjectChangedError)
    assert.is(changed.code, 'ERR_SLUICE_OBJECT_CHANGED')
    const again = await reader.open(url('c/moved.bin'))
    assert.equal(Buffer.from(await again.read(0, rewritten.length)), rewritten, 'a new open reads the new bytes')
    await store.remove('c/moved.bin')
  })

  test.run()
}

contract('BlockReader over MemorySource', memoryStore)
contract('BlockReader over S3 (s3rver)', s3Store)
contract('BlockReader over FileSource', fileStore)
