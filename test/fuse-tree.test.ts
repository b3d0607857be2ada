/**
 * The pure parts of the mount: the directory tree built from a flat listing, the errno table,
 * the version clock behind page-cache invalidation and the libfuse option list. No FUSE needed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { errnoFor, errnoNameFor, Errno, FuseOperationError } from '../fuse/errno.js'
import { libfuseOptions } from '../fuse/mount-options.js'
import { normalizePrefix } from '../fuse/mount.js'
import { buildTree, lookup, withFileInfo, type DirNode } from '../fuse/tree.js'
import { VersionClock } from '../fuse/version-clock.js'
import { ReadWindows } from '../fuse/read-windows.js'
import { BlockReader, KiB, SourceError } from '../lib/index.js'
import { FaultySource, MemorySource } from '../lib/testing/index.js'
import { waitFor } from './support/wait.js'
import { RecordingReader } from './support/recording-reader.js'
import { patternBytes } from './support/fuse-env.js'

const P = 's3://b/train/'
const obj = (key: string, size = 10, mtimeMs = 1_000_000) => ({ url: P + key, size, version: `"${key}"`, mtimeMs })
const names = (d: DirNode | undefined) => [...(d?.children.keys() ?? [])].sort()

/**
 * The read windows over a real BlockReader (4 KiB blocks, larger than the windows) on an
 * `s3://` MemorySource behind a FaultySource; the recording shows how many fetches (read,
 * readInto or chunks) the windows sent to the handle.
 */
function windowReader() {
  const source = new MemorySource('s3')
  const faults = new FaultySource(source)
  const reader = new RecordingReader(new BlockReader({ blockSize: 4 * KiB, sources: [faults] }))
  // A window is fetched with read, readInto or (streamed) chunks: each is one fetch.
  const reads = () => reader.log.reads.length + reader.log.readIntos.length + reader.log.chunkCalls.length
  return { reader, source, faults, reads }
}

test('directories come from the key hierarchy, with or without markers', () => {
  const t = buildTree(P, [obj('a/x.rec'), obj('a/b/c/y.rec'), obj('top.rec'), obj('empty/', 0), obj('a/b/', 0)])
  assert.equal(names(t.root), ['a', 'empty', 'top.rec'])
  assert.equal(names(lookup(t, '/a') as DirNode), ['b', 'x.rec'])
  assert.equal(lookup(t, '/a/b/c/y.rec')?.kind, 'file')
  assert.equal(lookup(t, '/empty')?.kind, 'dir')
  assert.equal(names(lookup(t, '/empty') as DirNode), [])
  assert.is(lookup(t, '/nope'), undefined)
  assert.is(lookup(t, '/top.rec/x'), undefined)
  assert.is(t.objectCount, 3)
  assert.is(t.totalBytes, 30)
})

test('a directory shadows a file of the same name, in either order', () => {
  for (const order of [[obj('d'), obj('d/f')], [obj('d/f'), obj('d')]]) {
    const t = buildTree(P, order)
    assert.is(lookup(t, '/d')?.kind, 'dir')
    assert.is(t.objectCount, 1)
    assert.equal(t.skipped.map((s) => s.reason), ['shadowed-by-directory'])
  }
})

test('keys a path cannot carry are skipped and reported', () => {
  const t = buildTree(P, [obj('a//b'), obj('./x'), obj('../y'), obj('n'.repeat(256)), obj('ok'), { ...obj('z'), url: 's3://b/other/z' }])
  assert.equal(names(t.root), ['ok'])
  assert.equal(t.skipped.map((s) => s.reason).sort(), ['outside-prefix', 'unrepresentable', 'unrepresentable', 'unrepresentable', 'unrepresentable'])
})

test('file:// listings are percent-decoded', () => {
  const t = buildTree('file:///data/', [{ url: 'file:///data/my%20dir/a%25b', size: 1, version: '1' }])
  assert.is(lookup(t, '/my dir/a%b')?.kind, 'file')
})

test('directory mtimes are the newest below them', () => {
  const t = buildTree(P, [obj('a/x', 1, 5000), obj('a/b/y', 1, 9000), obj('c', 1, 7000)])
  assert.is((lookup(t, '/a') as DirNode).mtimeMs, 9000)
  assert.is(t.root.mtimeMs, 9000)
})

test('withFileInfo replaces one file and keeps the rest', () => {
  const t = buildTree(P, [obj('a/x', 10), obj('a/y', 10)])
  const u = withFileInfo(t, '/a/x', { url: P + 'a/x', size: 25, version: '"new"' })
  const x = lookup(u, '/a/x')
  assert.is(x?.kind === 'file' && x.info.version, '"new"')
  assert.is(u.totalBytes, 35)
  assert.is(lookup(u, '/a/y'), lookup(t, '/a/y'))
  assert.is(lookup(t, '/a/x')?.kind === 'file' && (lookup(t, '/a/x') as { info: { version: string } }).info.version, '"a/x"')
})

test('errno table: not found → ENOENT, changed → ESTALE, anything else → EIO', () => {
  assert.is(errnoFor({ code: 'ERR_SLUICE_NOT_FOUND' }), Errno.ENOENT)
  assert.is(errnoFor({ code: 'ERR_SLUICE_BUCKET_NOT_FOUND' }), Errno.ENOENT)
  assert.is(errnoFor({ code: 'ERR_SLUICE_OBJECT_CHANGED' }), Errno.ESTALE)
  assert.is(errnoFor({ code: 'ERR_SLUICE_SOURCE' }), Errno.EIO)
  assert.is(errnoFor(new Error('bug')), Errno.EIO)
  assert.is(errnoFor(undefined), Errno.EIO)
  assert.is(errnoNameFor(new FuseOperationError('EROFS', 'x')), 'EROFS')
  assert.is(Errno.ESTALE, -116)
})

test('version clock: same version same mtime; a new version always moves it', () => {
  const clock = new VersionClock(0)
  const a = clock.mtimeFor('/f', { url: 'u', size: 1, version: 'v1', mtimeMs: 1_700_000_000_000 })
  assert.is(Math.floor(a / 1000), 1_700_000_000)
  assert.is(clock.mtimeFor('/f', { url: 'u', size: 1, version: 'v1', mtimeMs: 1_700_000_000_000 }), a)
  let previous = a
  for (let i = 2; i < 3000; i++) {
    const next = clock.mtimeFor('/f', { url: 'u', size: 1, version: `v${i}`, mtimeMs: 1_700_000_000_000 })
    assert.ok(next !== previous, `version v${i} reported the same mtime as the one before`)
    previous = next
  }
})

test('libfuse options: read-only, auto_cache with open-time revalidation, bounded kernel timeouts', () => {
  const o = libfuseOptions({ metadataTtlMs: 60_000, allowOther: false, prefix: 's3://b/a,b c/' })
  for (const want of ['ro', 'auto_cache', 'ac_attr_timeout=0', 'attr_timeout=1', 'entry_timeout=1', 'default_permissions', 'subtype=sluice']) {
    assert.ok(o.includes(want), want)
  }
  assert.not.ok(o.includes('allow_other'))
  assert.not.ok(o.some((x) => x === 'kernel_cache'))
  assert.ok(o.every((x) => !x.includes(',') && !x.includes(' ')))
  assert.ok(libfuseOptions({ metadataTtlMs: 250, allowOther: true, prefix: 'x' }).includes('attr_timeout=0.25'))
  assert.ok(libfuseOptions({ metadataTtlMs: 250, allowOther: true, prefix: 'x' }).includes('allow_other'))
})

test('prefixes are normalised to directories', () => {
  assert.is(normalizePrefix('s3://b/train'), 's3://b/train/')
  assert.is(normalizePrefix('s3://b/train/'), 's3://b/train/')
  assert.is(normalizePrefix('s3://b'), 's3://b/')
  assert.is(normalizePrefix('/data/my dir'), 'file:///data/my%20dir/')
})

test('read windows: reads across window boundaries match, one fetch per window, bounded', async () => {
  const { reader, source, reads } = windowReader()
  const bytes = patternBytes(10_000, 3)
  const info = source.put('s3://b/x', bytes)
  const handle = await reader.open(info)
  const windows = new ReadWindows(1024, 4)
  const target = new Uint8Array(3000)
  for (const [pos, len] of [[0, 3000], [1000, 2500], [9000, 3000], [1023, 2], [9999, 1]] as const) {
    const n = await windows.readInto(1, handle, target, pos, len)
    const want = bytes.subarray(pos, Math.min(bytes.length, pos + len))
    assert.is(n, want.length)
    assert.equal(target.subarray(0, n), want)
  }
  const before = reads()
  await Promise.all([0, 128, 256, 384].map((p) => windows.readInto(2, handle, new Uint8Array(128), p, 128)))
  assert.is(reads() - before, 1, 'concurrent reads of one window share one fetch')
  windows.drop(1)
  windows.drop(2)
  assert.is(windows.size, 0)
  await reader.close()
})

test('read windows: a fetched window answers synchronously; sequential readers fetch the next window ahead', async () => {
  const { reader, source, reads } = windowReader()
  const bytes = patternBytes(4096 + 100, 7)
  const handle = await reader.open(source.put('s3://b/seq', bytes))
  const windows = new ReadWindows(1024, 64)
  const target = new Uint8Array(256)
  assert.is(windows.copyReady(1, handle, target, 0, 256), -1, 'nothing fetched yet: starts the fetch, answers later')
  // The first window is streamed: the read is answered once its bytes arrived (the double
  // sends each range in two halves), before the rest of the window.
  assert.is(await windows.readInto(1, handle, target, 0, 256), 256)
  assert.is(reads(), 1)
  assert.is(windows.copyReady(1, handle, target, 256, 256), 256, 'the first half arrived: served at once')
  assert.equal(target, bytes.subarray(256, 512))
  assert.is(reads(), 1, 'in the first half of window 0, nothing fetched ahead yet')
  // Past the middle of window 0, sequentially: window 1 is fetched ahead of the reader.
  assert.is(await windows.readInto(1, handle, target, 512, 256), 256)
  assert.equal(target, bytes.subarray(512, 768))
  assert.is(reads(), 2, 'window 1 fetched ahead')
  assert.is(windows.copyReady(1, handle, target, 768, 256), 256, 'window 0 has arrived whole')
  // Window 1 arrives from the fetch ahead (a real reader takes a few turns), with no read of its own.
  await waitFor('window 1 to arrive', () => windows.copyReady(1, handle, target, 1024, 256) === 256)
  assert.is(reads(), 2, 'window 1 came from the fetch ahead')
  assert.equal(target, bytes.subarray(1024, 1280))
  // A read straddling two fetched windows is copied from both.
  const straddle = new Uint8Array(300)
  assert.is(windows.copyReady(1, handle, straddle, 900, 300), 300)
  assert.equal(straddle, bytes.subarray(900, 1200))
  // The short last window: a read past it copies what there is.
  assert.is(await windows.readInto(1, handle, target, 4096, 256), 100)
  assert.equal(target.subarray(0, 100), bytes.subarray(4096))
  // A random reader (a jump) fetches no neighbour.
  const fetched = reads()
  const random = new Uint8Array(16)
  assert.is(await windows.readInto(2, handle, random, 2048 + 900, 16), 16)
  assert.is(reads(), fetched + 1)
  assert.equal(random, bytes.subarray(2048 + 900, 2048 + 916))
  await reader.close()
})

test('read windows: at most three per file and maxWindows overall; a failed fetch is not kept', async () => {
  const { reader, source, faults } = windowReader()
  const bytes = patternBytes(64 * 1024, 8)
  const info = source.put('s3://b/many', bytes)
  const handle = await reader.open(info)
  const windows = new ReadWindows(1024, 5)
  const target = new Uint8Array(1024)
  for (let pos = 0; pos < 16 * 1024; pos += 512) await windows.readInto(1, handle, target, pos, 512)
  assert.ok(windows.size <= 3, `one file holds ${windows.size} windows`)
  for (let fd = 2; fd < 6; fd++) await windows.readInto(fd, handle, target, 0, 1024)
  assert.ok(windows.size <= 5, `${windows.size} windows held`)
  for (let fd = 1; fd < 6; fd++) windows.drop(fd)
  assert.is(windows.size, 0)

  // The failure must reach the handle: drop the blocks the reader cached, then fail the store.
  await reader.inner.evict(info.url)
  faults.setFaults([{ kind: 'error', url: /many$/, error: (url) => new SourceError(url, 'injected failure', { status: 400 }) }])
  await windows.readInto(7, handle, target, 0, 100).then(
    () => assert.unreachable('the read should fail'),
    (err: { code?: string }) => assert.is(err.code, 'ERR_SLUICE_SOURCE'),
  )
  assert.is(windows.size, 0, 'the failed window was dropped')
  faults.setFaults([])
  assert.is(await windows.readInto(7, handle, target, 0, 100), 100, 'the next read fetches again')
  assert.equal(target.subarray(0, 100), bytes.subarray(0, 100))
  await reader.close()
})

test('pooled read windows: buffers are reused only once no lease or fetch uses them; bytes stay right', async () => {
  const source = new MemorySource('s3')
  const reader = new BlockReader({ sources: [source], blockSize: 4 * KiB })
  const a = patternBytes(8192, 11)
  const b = patternBytes(8192, 12)
  const ha = await reader.open(source.put('s3://b/a', a))
  const hb = await reader.open(source.put('s3://b/b', b))
  const windows = new ReadWindows(1024, 3, true)
  // A lease held across evictions keeps its bytes: its buffer is not handed to another fetch.
  const held = await windows.lease(1, ha, 100, 200)
  assert.equal(Buffer.concat(held.views), Buffer.from(a.subarray(100, 300)))
  for (let i = 1; i < 8; i++) {
    const lease = await windows.lease(2, hb, i * 1024, 1024)
    assert.equal(Buffer.concat(lease.views), Buffer.from(b.subarray(i * 1024, (i + 1) * 1024)), `window ${i}`)
    lease.release()
  }
  assert.equal(Buffer.concat(held.views), Buffer.from(a.subarray(100, 300)), 'the held lease still reads its own bytes')
  const pooled = windows.pooledBuffers
  held.release()
  held.release() // idempotent
  assert.is(windows.pooledBuffers, pooled + 1, 'released after its window was evicted: the buffer goes back to the pool')
  // A window dropped while its fetch is in flight is not reused until the fetch settled.
  const pending = windows.lease(3, hb, 0, 10)
  windows.drop(3)
  const before = windows.pooledBuffers
  const late = await pending
  assert.equal(Buffer.from(late.views[0]!), Buffer.from(b.subarray(0, 10)))
  late.release()
  assert.is(windows.pooledBuffers, before + 1)
  // Reads through the pool match the objects wherever they start.
  const target = new Uint8Array(3000)
  for (const [pos, len] of [[0, 3000], [1000, 2500], [5000, 3000], [1023, 2]] as const) {
    const n = await windows.readInto(4, ha, target, pos, len)
    assert.equal(target.subarray(0, n), a.subarray(pos, Math.min(a.length, pos + len)))
  }
  await reader.close()
})

test.run()
