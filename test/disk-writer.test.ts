/**
 * The disk writer thread, on real LMDB files: fills written there are read back at once on
 * the reader's thread; the caller's block is neither moved nor changed by the hand-over; a
 * deletion waits for fills issued before it;
 * fills queued beyond the thread's slots all land; a thread that cannot open the cache
 * fails each fill with a CacheError naming the path; and a process that never closes its
 * store still exits (the idle thread does not hold it).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LmdbBlockStore } from '../lib/index.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { DiskWriter } from '../lib/cache/disk-writer.js'
import { defaultMapBytes } from '../lib/cache/lmdb-layout.js'
import { patternBytes } from './support/data.js'

const KB = 1024
const test = suite('disk writer thread')
let dir: string
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-writer-'))
})
test.after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const id = objectId('s3://b/writer', '"e"', 256 * KB, 1 << 30)

test('many fills queued at once all land, readable at once, and the callers keep their blocks', async () => {
  const store = new LmdbBlockStore({ path: join(dir, 'many'), maxBytes: 64 * 1024 * KB, blockSize: 256 * KB, writerThread: true })
  await store.init()
  const blocks = Array.from({ length: 12 }, (_, i) => patternBytes(256 * KB - i, `block-${i}`))
  const copies = blocks.map((b) => Buffer.from(b))
  const stored = await Promise.all(blocks.map((b, i) => store.put(blockKey(id, i), b)))
  assert.equal(stored, blocks.map(() => true))
  for (let i = 0; i < blocks.length; i++) {
    assert.is(blocks[i]!.byteLength, copies[i]!.byteLength, `block ${i} was not transferred away`)
    assert.ok(Buffer.from(blocks[i]!).equals(copies[i]!), `block ${i} unchanged by the hand-over`)
    const back = store.getSync(blockKey(id, i))
    assert.ok(back !== undefined && Buffer.from(back).equals(copies[i]!), `block ${i} reads back`)
  }
  assert.is(store.usage().entries, blocks.length)
  await store.close()
})

test('a deletion waits for fills issued before it, so evicted blocks do not come back', async () => {
  const store = new LmdbBlockStore({ path: join(dir, 'evict'), maxBytes: 64 * 1024 * KB, blockSize: 256 * KB, writerThread: true })
  await store.init()
  const puts = Array.from({ length: 12 }, (_, i) => store.put(blockKey(id, i), patternBytes(256 * KB, `evict-${i}`)))
  const removed = await store.deletePrefix(id)
  await Promise.all(puts)
  assert.is(removed, 12, 'every block put before the deletion is removed by it')
  assert.is(store.usage().entries, 0, 'none comes back afterwards')
  await store.close()
})

test('a thread that cannot open the cache fails every fill with a CacheError naming the path', async () => {
  const notADir = join(dir, 'plain-file')
  await writeFile(notADir, 'not an LMDB environment')
  const writer = new DiskWriter({ path: notADir, mapBytes: defaultMapBytes(1024 * KB), sketchTable: new Uint8Array(new SharedArrayBuffer(256)) }, () => {})
  for (let i = 0; i < 3; i++) {
    const err = await writer.write(blockKey(id, i), patternBytes(KB, 'x'), 1024 * KB).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    )
    assert.ok(err, `fill ${i} fails`)
    assert.is(err!.code, 'ERR_SLUICE_CACHE')
    assert.match(err!.message ?? '', notADir)
  }
  await writer.close()
  const late = await writer.write(blockKey(id, 9), patternBytes(KB, 'y'), 1024 * KB).then(
    () => 'stored',
    (e: unknown) => (e as Error).message,
  )
  assert.match(late, /closed/)
})

test('a process that fills the disk tier and never closes it still exits', () => {
  const module = fileURLToPath(new URL('../lib/index.js', import.meta.url))
  const script = `
    const { LmdbBlockStore } = await import(${JSON.stringify(module)})
    const store = new LmdbBlockStore({ path: ${JSON.stringify(join(dir, 'unclosed'))}, maxBytes: 8 << 20, blockSize: 1 << 20, writerThread: true })
    await store.init()
    const key = new Uint8Array(20); key[19] = 1
    console.log(await store.put(key, new Uint8Array(1 << 20).fill(7)))
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })
  assert.is(r.error, undefined, `the process exited by itself (${String(r.error)})`)
  assert.is(r.status, 0, r.stderr)
  assert.is(r.stdout.trim(), 'true')
})

test.run()
