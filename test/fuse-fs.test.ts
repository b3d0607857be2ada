/**
 * ReadOnlyFileSystem without a mount: the semantics every FUSE binding shares (attributes,
 * listings and their refresh, the open-file table, reads, release, statfs, and the errno each
 * failure answers with), over a real BlockReader whose store is a MemorySource. The source is
 * wrapped only to fail on demand; the mount tests prove both bindings on top.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { AccessDeniedError, BlockReader, KiB, MemorySource, type ObjectInfo, type SluiceError } from '../lib/index.js'
import { errnoFor, FuseOperationError } from '../fuse/errno.js'
import { ReadOnlyFileSystem, type FileStat } from '../fuse/read-only-fs.js'
import { patternBytes } from './support/data.js'

const PREFIX = 'mem://bucket/data/'
const BLOCK = 16 * KiB
const O_RDONLY = 0
const O_WRONLY = 1
const O_RDWR = 2
const O_TRUNC = 0o1000
const S_IFDIR = 0o040000
const S_IFREG = 0o100000

/** A MemorySource that fails reads or listings when told to. */
class FailingSource extends MemorySource {
  failReads: SluiceError | undefined
  failList: SluiceError | undefined
  override async readRange(info: ObjectInfo, start: number, end: number): Promise<Uint8Array> {
    if (this.failReads) throw this.failReads
    return super.readRange(info, start, end)
  }
  override async list(prefix: string): Promise<ObjectInfo[]> {
    if (this.failList) throw this.failList
    return super.list(prefix)
  }
}

interface Setup {
  source: FailingSource
  reader: BlockReader
  fs: ReadOnlyFileSystem
  logs: string[]
  files: Map<string, Buffer>
  close(): Promise<void>
}

async function setup(metadataTtlMs = 60_000): Promise<Setup> {
  const source = new FailingSource('mem')
  const files = new Map<string, Buffer>([
    ['top.bin', patternBytes(3 * BLOCK + 100, 'top')],
    ['empty.bin', patternBytes(0)],
    ['train/a.rec', patternBytes(BLOCK, 'a')],
    ['train/nested/b.rec', patternBytes(5000, 'b')],
  ])
  for (const [key, bytes] of files) source.put(PREFIX + key, bytes)
  source.put('mem://bucket/elsewhere/x', patternBytes(10))
  const reader = new BlockReader({ sources: [source], blockSize: BLOCK, retry: { maxAttempts: 1 } })
  const logs: string[] = []
  const fs = new ReadOnlyFileSystem(reader, { prefix: PREFIX, metadataTtlMs, uid: 1234, gid: 5678, log: (l) => logs.push(l) })
  await fs.load()
  return { source, reader, fs, logs, files, close: async () => { await fs.closeAll(); await reader.close() } }
}

/** A test body run against a fresh setup, closed afterwards whatever happens. */
function withSetup(ttlOrBody: number | ((s: Setup) => Promise<void>), body?: (s: Setup) => Promise<void>): () => Promise<void> {
  const [ttl, run] = typeof ttlOrBody === 'number' ? [ttlOrBody, body!] : [undefined, ttlOrBody]
  return async () => {
    const s = await setup(ttl)
    try {
      await run(s)
    } finally {
      await s.close()
    }
  }
}

/** The failure of `work` as `NAME errno`: the class, the name and the exact number a binding answers. */
async function errnoOf(work: Promise<unknown>): Promise<string> {
  try {
    await work
  } catch (err) {
    assert.instance(err, FuseOperationError)
    return `${(err as FuseOperationError).errno} ${errnoFor(err)}`
  }
  assert.unreachable('the operation should have failed')
  return ''
}

/** Reads the whole file through `fd` in requests of `size` bytes, as the kernel would. */
async function readAll(fs: ReadOnlyFileSystem, path: string, fd: number, fileSize: number, size = 4096): Promise<Buffer> {
  const parts: Buffer[] = []
  for (let pos = 0; pos < fileSize; ) {
    const buf = Buffer.alloc(size)
    const n = await fs.read(path, fd, buf, size, pos)
    assert.ok(n > 0, `read at ${pos} returned ${n}`)
    parts.push(buf.subarray(0, n))
    pos += n
  }
  return Buffer.concat(parts)
}

test('getattr: directories from the key hierarchy, files read-only with their size and owner', withSetup(async (s) => {
  const root = await s.fs.getattr('/')
  assert.is(root.mode, S_IFDIR | 0o555)
  assert.is(root.nlink, 2)
  assert.is((await s.fs.getattr('/train/nested')).mode, S_IFDIR | 0o555)
  const top: FileStat = await s.fs.getattr('/top.bin')
  assert.is(top.mode, S_IFREG | 0o444)
  assert.is(top.size, 3 * BLOCK + 100)
  assert.is(top.blocks, Math.ceil((3 * BLOCK + 100) / 512))
  assert.is(top.uid, 1234)
  assert.is(top.gid, 5678)
  assert.is(top.mtime, (await s.fs.getattr('/top.bin')).mtime, 'same version, same mtime')
  assert.is((await s.fs.getattr('/empty.bin')).size, 0)
  assert.is(await errnoOf(s.fs.getattr('/nope')), 'ENOENT -2')
  assert.is(await errnoOf(s.fs.getattr('/top.bin/x')), 'ENOENT -2')
  assert.is(await errnoOf(s.fs.getattr('/elsewhere')), 'ENOENT -2', 'keys outside the prefix are not shown')
}))

test('readdir: . and .. first, then the children, each with its attributes', withSetup(async (s) => {
  const root = await s.fs.readdir('/')
  assert.equal(root.names, ['.', '..', 'empty.bin', 'top.bin', 'train'])
  assert.is(root.stats.length, root.names.length)
  assert.is(root.stats[3]!.size, 3 * BLOCK + 100)
  assert.is(root.stats[4]!.mode, S_IFDIR | 0o555)
  assert.equal((await s.fs.readdir('/train/')).names, ['.', '..', 'a.rec', 'nested'])
  assert.is(await errnoOf(s.fs.readdir('/top.bin')), 'ENOTDIR -20')
  assert.is(await errnoOf(s.fs.readdir('/nope')), 'ENOENT -2')
}))

test('open: read-only files only; write access, truncation and directories are refused', withSetup(async (s) => {
  const a = await s.fs.open('/top.bin', O_RDONLY)
  const b = await s.fs.open('/top.bin', O_RDONLY)
  assert.ok(a >= 1 && b >= 1 && a !== b, `file handles ${a} and ${b}`)
  assert.is(s.fs.stats().openFiles, 2)
  assert.is(s.fs.stats().opens, 2)
  assert.is(await errnoOf(s.fs.open('/top.bin', O_WRONLY)), 'EROFS -30')
  assert.is(await errnoOf(s.fs.open('/top.bin', O_RDWR)), 'EROFS -30')
  assert.is(await errnoOf(s.fs.open('/top.bin', O_RDONLY | O_TRUNC)), 'EROFS -30')
  assert.is(await errnoOf(s.fs.open('/train', O_RDONLY)), 'EISDIR -21')
  assert.is(await errnoOf(s.fs.open('/nope', O_RDONLY)), 'ENOENT -2')
  assert.is(s.fs.stats().openFiles, 2, 'failed opens hold no file')
}))

test('read: bytes match the object at any offset and size, across blocks; 0 at the end', withSetup(async (s) => {
  const bytes = s.files.get('top.bin')!
  const fd = await s.fs.open('/top.bin', O_RDONLY)
  assert.equal(await readAll(s.fs, '/top.bin', fd, bytes.length), bytes)
  for (const [pos, len] of [[BLOCK - 10, 20], [0, 3 * BLOCK + 100], [2 * BLOCK + 7, BLOCK], [3 * BLOCK + 99, 4096]] as const) {
    const buf = Buffer.alloc(len)
    const n = await s.fs.read('/top.bin', fd, buf, len, pos)
    const want = bytes.subarray(pos, Math.min(bytes.length, pos + len))
    assert.is(n, want.length, `read of ${len} at ${pos}`)
    assert.equal(buf.subarray(0, n), want)
  }
  assert.is(await s.fs.read('/top.bin', fd, Buffer.alloc(10), 10, bytes.length), 0)
  assert.is(await s.fs.read('/top.bin', fd, Buffer.alloc(10), 10, bytes.length + 5000), 0)
  const empty = await s.fs.open('/empty.bin', O_RDONLY)
  assert.is(await s.fs.read('/empty.bin', empty, Buffer.alloc(10), 10, 0), 0)
  // Concurrent reads, as libfuse's threads send them, all land in their own buffers.
  const reads = Array.from({ length: 8 }, (_, i) => {
    const buf = Buffer.alloc(5000)
    return s.fs.read('/top.bin', fd, buf, 5000, i * 6000).then((n) => buf.subarray(0, n))
  })
  const got = await Promise.all(reads)
  got.forEach((b, i) => assert.equal(b, bytes.subarray(i * 6000, i * 6000 + 5000), `concurrent read ${i}`))
  assert.is(s.fs.stats().bytesRead, 2 * bytes.length + 20 + BLOCK + 1 + 8 * 5000)
}))

test('release: the handle is gone (later reads are EBADF); releasing twice is harmless', withSetup(async (s) => {
  const fd = await s.fs.open('/train/a.rec', O_RDONLY)
  assert.is(await s.fs.read('/train/a.rec', fd, Buffer.alloc(100), 100, 0), 100)
  await s.fs.release('/train/a.rec', fd)
  assert.is(s.fs.stats().openFiles, 0)
  assert.is(await errnoOf(s.fs.read('/train/a.rec', fd, Buffer.alloc(100), 100, 0)), 'EBADF -9')
  await s.fs.release('/train/a.rec', fd)
  assert.is(await errnoOf(s.fs.read('/x', 999, Buffer.alloc(1), 1, 0)), 'EBADF -9')
}))

test('closeAll closes every open file', withSetup(async (s) => {
  const fds = [await s.fs.open('/top.bin', O_RDONLY), await s.fs.open('/train/a.rec', O_RDONLY)]
  assert.is(s.fs.stats().openFiles, 2)
  await s.fs.closeAll()
  assert.is(s.fs.stats().openFiles, 0)
  for (const fd of fds) assert.is(await errnoOf(s.fs.read('/top.bin', fd, Buffer.alloc(1), 1, 0)), 'EBADF -9')
}))

test('an open file reads the version it opened: rewritten underneath, an uncached read is ESTALE', withSetup(0, async (s) => {
  const bytes = s.files.get('top.bin')!
  const fd = await s.fs.open('/top.bin', O_RDONLY)
  // One block from the middle: not how a sequential reader starts, so nothing is read ahead.
  const oneBlock = Buffer.alloc(BLOCK)
  assert.is(await s.fs.read('/top.bin', fd, oneBlock, BLOCK, BLOCK), BLOCK)
  const v2 = patternBytes(bytes.length + 1, 'top v2')
  s.source.put(PREFIX + 'top.bin', v2)
  // A cached block still answers with the opened version's bytes, never a mix.
  const again = Buffer.alloc(100)
  assert.is(await s.fs.read('/top.bin', fd, again, 100, BLOCK), 100)
  assert.equal(again, bytes.subarray(BLOCK, BLOCK + 100))
  assert.is(await errnoOf(s.fs.read('/top.bin', fd, Buffer.alloc(100), 100, 3 * BLOCK + 50)), 'ESTALE -116')
  assert.is(s.fs.stats().errors.ESTALE, 1)
  assert.ok(s.logs.some((l) => l.includes('ESTALE') && l.includes('ERR_SLUICE_OBJECT_CHANGED')), s.logs.join('\n'))
  // Once the last handle is closed, the listing (TTL 0) shows the new version, and a new open reads it.
  await s.fs.release('/top.bin', fd)
  assert.is((await s.fs.getattr('/top.bin')).size, v2.length)
  const fd2 = await s.fs.open('/top.bin', O_RDONLY)
  assert.equal(await readAll(s.fs, '/top.bin', fd2, v2.length), v2)
}))

test('while a file is open, its path reports the open version and new opens pin it; the next version shows after the last close', withSetup(0, async (s) => {
  const v1 = s.files.get('train/nested/b.rec')!
  const fd = await s.fs.open('/train/nested/b.rec', O_RDONLY)
  const v1Stat = await s.fs.getattr('/train/nested/b.rec')
  assert.equal(await readAll(s.fs, '/train/nested/b.rec', fd, v1.length), v1) // now cached: v1 stays readable
  const v2 = patternBytes(v1.length + 777, 'b v2')
  s.source.put(PREFIX + 'train/nested/b.rec', v2)
  // The listing (TTL 0) re-lists at every operation and sees v2, but the path stays on v1:
  // getattr, the directory listing and a second open all agree with the open handle.
  const held = await s.fs.getattr('/train/nested/b.rec')
  assert.is(held.size, v1.length)
  assert.is(held.mtime, v1Stat.mtime)
  const dir = await s.fs.readdir('/train/nested')
  assert.is(dir.stats[dir.names.indexOf('b.rec')]!.size, v1.length)
  const fd2 = await s.fs.open('/train/nested/b.rec', O_RDONLY)
  assert.equal(await readAll(s.fs, '/train/nested/b.rec', fd2, v1.length), v1)
  // Closing one of two handles keeps the hold; closing the last releases it.
  await s.fs.release('/train/nested/b.rec', fd)
  assert.is((await s.fs.getattr('/train/nested/b.rec')).size, v1.length)
  await s.fs.release('/train/nested/b.rec', fd2)
  const next = await s.fs.getattr('/train/nested/b.rec')
  assert.is(next.size, v2.length)
  assert.not.equal(next.mtime, v1Stat.mtime, 'the new version reports another mtime (drops the page cache at the next open)')
  const fd3 = await s.fs.open('/train/nested/b.rec', O_RDONLY)
  assert.equal(await readAll(s.fs, '/train/nested/b.rec', fd3, v2.length), v2)
}))

test('readViews: the bytes of any range as views of the cached blocks, none past the end; requests counted by size', withSetup(async (s) => {
  const bytes = s.files.get('top.bin')!
  const fd = await s.fs.open('/top.bin', O_RDONLY)
  for (const [pos, len] of [[0, 100], [BLOCK - 10, 20], [BLOCK, BLOCK], [2 * BLOCK + 5, 10 * BLOCK], [bytes.length - 1, 4096]] as const) {
    const lease = await s.fs.readViews('/top.bin', fd, len, pos)
    assert.ok(lease.views.length <= 2, 'a range inside or across two blocks: one or two views')
    assert.equal(Buffer.concat(lease.views), bytes.subarray(pos, pos + len), `range ${pos}+${len}`)
    lease.release()
  }
  assert.equal((await s.fs.readViews('/top.bin', fd, 10, bytes.length)).views, [])
  assert.is(await errnoOf(s.fs.readViews('/top.bin', 999, 10, 0)), 'EBADF -9')
  const r = s.fs.stats().readRequests
  assert.is(r.count, 7)
  assert.is(r.largestBytes, 10 * BLOCK)
  assert.is(r.atLeast512KiB, 0)
}))

test('errno of read failures: deleted object ENOENT, other store failures EIO (logged with the code)', withSetup(async (s) => {
  const fd = await s.fs.open('/train/nested/b.rec', O_RDONLY)
  s.source.delete(PREFIX + 'train/nested/b.rec')
  assert.is(await errnoOf(s.fs.read('/train/nested/b.rec', fd, Buffer.alloc(10), 10, 0)), 'ENOENT -2')
  assert.not.ok(s.logs.some((l) => l.includes('ENOENT')), 'ENOENT is an answer, not logged')

  const url = PREFIX + 'train/a.rec'
  s.source.failReads = new AccessDeniedError(url, 'policy forbids it')
  const fa = await s.fs.open('/train/a.rec', O_RDONLY)
  let failure: unknown
  await s.fs.read('/train/a.rec', fa, Buffer.alloc(10), 10, 0).catch((err: unknown) => (failure = err))
  assert.instance(failure, FuseOperationError)
  assert.is((failure as FuseOperationError).errno, 'EIO')
  assert.is(errnoFor(failure), -5)
  assert.is(((failure as Error).cause as SluiceError).code, 'ERR_SLUICE_ACCESS_DENIED', 'the sluice error is kept as the cause')
  assert.ok(s.logs.some((l) => l.startsWith('read /train/a.rec: EIO (ERR_SLUICE_ACCESS_DENIED)')), s.logs.join('\n'))
  s.source.failReads = undefined
  const ok = Buffer.alloc(10)
  assert.is(await s.fs.read('/train/a.rec', fa, ok, 10, 0), 10, 'a failed read is not remembered')
  assert.equal(ok, s.files.get('train/a.rec')!.subarray(0, 10))
  assert.equal(s.fs.stats().errors, { ENOENT: 1, EIO: 1 })
}))

test('listing refresh: new and deleted objects appear after the TTL; a failed refresh keeps the last listing', withSetup(0, async (s) => {
  s.source.put(PREFIX + 'late/arrival.bin', patternBytes(10, 'late'))
  s.source.delete(PREFIX + 'empty.bin')
  assert.is((await s.fs.getattr('/late/arrival.bin')).size, 10)
  assert.is(await errnoOf(s.fs.getattr('/empty.bin')), 'ENOENT -2')
  s.source.failList = new AccessDeniedError(PREFIX, 'listing forbidden')
  assert.is((await s.fs.getattr('/late/arrival.bin')).size, 10, 'served from the previous listing')
  assert.ok(s.logs.some((l) => l.includes('serving the previous listing')), s.logs.join('\n'))
}))

test('before any listing succeeded there is nothing to serve: load() rejects with the core error', async () => {
  const source = new FailingSource('mem')
  source.failList = new AccessDeniedError(PREFIX, 'listing forbidden')
  const reader = new BlockReader({ sources: [source] })
  try {
    const fs = new ReadOnlyFileSystem(reader, { prefix: PREFIX, metadataTtlMs: 0 })
    await fs.load().then(
      () => assert.unreachable('load should fail'),
      (err: SluiceError) => assert.is(err.code, 'ERR_SLUICE_ACCESS_DENIED'),
    )
  } finally {
    await reader.close()
  }
})

test('statfs, access and every write: read-only, counted', withSetup(async (s) => {
  const st = await s.fs.statfs('/')
  assert.is(st.flag & 1, 1, 'ST_RDONLY')
  assert.is(st.files, 4)
  assert.is(st.frsize, 1024 * 1024)
  assert.is(st.blocks, 1)
  assert.is(st.bfree, 0)
  await s.fs.access('/top.bin', 4)
  assert.is(await errnoOf(s.fs.access('/top.bin', 2)), 'EROFS -30')
  assert.is(await errnoOf(s.fs.access('/nope', 4)), 'ENOENT -2')
  for (const op of ['create', 'write', 'unlink', 'mkdir', 'rename', 'setxattr']) {
    assert.is(await errnoOf(s.fs.refuse(op, '/top.bin')), 'EROFS -30', op)
  }
  const stats = s.fs.stats()
  assert.is(stats.errors.EROFS, 7)
  assert.is(stats.operations.write, 1)
  assert.is(stats.operations.access, 3)
  assert.is(stats.objectCount, 4)
  assert.is(stats.totalBytes, [...s.files.values()].reduce((n, b) => n + b.length, 0))
  assert.is(s.logs.length, 0, 'refusals are answers, not faults')
}))

test('metadataTtlMs must be a non-negative number', async () => {
  const reader = new BlockReader({ sources: [new MemorySource('mem')] })
  try {
    for (const bad of [-1, Number.NaN]) {
      assert.throws(() => new ReadOnlyFileSystem(reader, { prefix: PREFIX, metadataTtlMs: bad }), (e: Error) => e instanceof RangeError && /metadataTtlMs must be >= 0/.test(e.message))
    }
  } finally {
    await reader.close()
  }
})

test.run()
