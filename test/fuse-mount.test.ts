/**
 * A real FUSE mount over a real BlockReader on an in-memory store (`s3://` URLs served by a
 * MemorySource behind a FaultySource), read by separate processes (`cat`, `sha256sum`,
 * `python3`, `ls`). The in-memory store lets these tests rewrite objects under open files and
 * fail reads on demand, which is how ESTALE, EIO and page-cache invalidation are checked.
 * Runs once per FUSE backend (the libfuse 3 addon, fuse-native), each where it can mount
 * here, and says so when it skips.
 */
import { createHash } from 'node:crypto'
import * as assert from 'uvu/assert'
import { mount, type SluiceMount } from '../fuse/index.js'
import { cleanupMountpoint, forEachBackend, patternBytes, run, spawnLong, tempMountpoint } from './support/fuse-env.js'
import { BlockReader, SourceError } from '../lib/index.js'
import { FaultySource, MemorySource } from '../lib/testing/index.js'
import { waitFor } from './support/wait.js'

await forEachBackend('fuse-mount', ({ backend, it, suite: test, skip }) => {
  const PREFIX = 's3://bucket/data/'
  const TTL_MS = 300
  const source = new MemorySource('s3')
  const faults = new FaultySource(source)
  const reader = new BlockReader({ sources: [faults] })
  /** One modification time for every version, so a rewrite changes only the version. */
  const MTIME_MS = Date.UTC(2024, 0, 2, 3, 4, 5)
  const put = (url: string, bytes: Uint8Array) => source.put(url, bytes, { mtimeMs: MTIME_MS })
  /** The mount's own count of an operation: what reached the daemon. */
  const operations = (op: string) => m!.stats().operations[op] ?? 0
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

  const files: Record<string, Uint8Array> = {
    'empty.bin': new Uint8Array(0),
    'one.bin': patternBytes(1, 1),
    'train/shard-0.rec': patternBytes(128 * 1024 + 1, 2),
    'train/shard-1.rec': patternBytes(3 * 1024 * 1024 + 17, 3),
    'train/nested/deeper/x.rec': patternBytes(1000, 4),
    'eval/e.rec': patternBytes(70_000, 5),
  }
  for (let i = 0; i < 8; i++) files[`many/f${i}.bin`] = patternBytes(1024 * 1024 + i * 4099, 100 + i)
  for (const [key, bytes] of Object.entries(files)) put(PREFIX + key, bytes)
  put('s3://bucket/elsewhere/not-shown', patternBytes(5, 9))

  let mnt: string | undefined
  let m: SluiceMount | undefined
  const logs: string[] = []

  test.before(async () => {
    if (skip) return
    mnt = await tempMountpoint(`fuse-mount-${backend}`)
    m = await mount(reader, 's3://bucket/data', mnt, { backend, metadataTtlMs: TTL_MS, log: (l) => logs.push(l) })
  })

  test.after(async () => {
    await m?.unmount().catch((err) => console.error('unmount failed:', err))
    await cleanupMountpoint(mnt)
    await reader.close()
  })

  it('lists nested prefixes as directories', async () => {
    const r = await run('find', [mnt!, '-mindepth', '1', '-printf', '%y %s %P\n'])
    assert.is(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n').sort()
    const expected = ['d 4096 eval', 'd 4096 many', 'd 4096 train', 'd 4096 train/nested', 'd 4096 train/nested/deeper']
    for (const [key, bytes] of Object.entries(files)) expected.push(`f ${bytes.length} ${key}`)
    assert.equal(lines, expected.sort())
  })

  it('files read by cat, sha256sum and python3 are byte-identical to the objects', async () => {
    for (const [key, bytes] of Object.entries(files)) {
      const r = await run('sha256sum', [`${mnt}/${key}`])
      assert.is(r.code, 0, r.stderr)
      assert.is(r.stdout.split(' ')[0], sha(bytes), key)
    }
    const cat = await run('sh', ['-c', `cat "${mnt}/train/shard-1.rec" | sha256sum`])
    assert.is(cat.stdout.split(' ')[0], sha(files['train/shard-1.rec']!))
    const py = await run('python3', ['-c', `import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())`, `${mnt}/eval/e.rec`])
    assert.is(py.stdout.trim(), sha(files['eval/e.rec']!), py.stderr)
  })

  it('random-offset reads (python seek) match', async () => {
    const key = 'train/shard-1.rec'
    const script = `import sys,hashlib
f=open(sys.argv[1],'rb',buffering=0)
out=hashlib.sha256()
for off,n in [(3000000,100000),(17,5),(131071,3),(1048576,262144),(3145728,10000)]:
    f.seek(off); out.update(f.read(n))
print(out.hexdigest())`
    const py = await run('python3', ['-c', script, `${mnt}/${key}`])
    const b = files[key]!
    const want = createHash('sha256')
    for (const [off, n] of [[3000000, 100000], [17, 5], [131071, 3], [1048576, 262144], [3145728, 10000]] as const) want.update(b.subarray(off, off + n))
    assert.is(py.stdout.trim(), want.digest('hex'), py.stderr)
  })

  it('eight concurrent readers of different files all get correct bytes', async () => {
    const keys = Object.keys(files).filter((k) => k.startsWith('many/'))
    assert.is(keys.length, 8)
    const results = await Promise.all(keys.map((k) => run('sha256sum', [`${mnt}/${k}`])))
    results.forEach((r, i) => assert.is(r.stdout.split(' ')[0], sha(files[keys[i]!]!), keys[i]))
  })

  it('writes fail with EROFS', async () => {
    const script = `import os,sys,errno
d=sys.argv[1]
res=[]
for fn in [lambda: open(d+'/one.bin','wb'), lambda: open(d+'/new.bin','w'), lambda: open(d+'/one.bin','r+b'),
           lambda: os.mkdir(d+'/dir'), lambda: os.unlink(d+'/one.bin'), lambda: os.rename(d+'/one.bin', d+'/two.bin'),
           lambda: os.chmod(d+'/one.bin', 0o777), lambda: os.truncate(d+'/one.bin', 0), lambda: os.utime(d+'/one.bin')]:
    try:
        fn(); res.append('ok')
    except OSError as e:
        res.append(errno.errorcode[e.errno])
print(' '.join(res))`
    const py = await run('python3', ['-c', script, mnt!])
    assert.is(py.stdout.trim(), Array(9).fill('EROFS').join(' '), py.stderr)
    const sh = await run('sh', ['-c', `echo x > "${mnt}/one.bin"`])
    assert.ok(sh.code !== 0 && /Read-only file system/.test(sh.stderr), sh.stderr)
  })

  it('missing files are ENOENT, directories are EISDIR, statfs says read-only', async () => {
    const py = await run('python3', ['-c', `import os,sys,errno
d=sys.argv[1]
out=[]
for p in ['/nope','/train/nope.rec','/one.bin/x']:
    try: open(d+p,'rb'); out.append('ok')
    except OSError as e: out.append(errno.errorcode[e.errno])
try: open(d+'/train','rb').read(); out.append('ok')
except OSError as e: out.append(errno.errorcode[e.errno])
s=os.statvfs(d)
out.append('ro' if s.f_flag & os.ST_RDONLY else 'rw')
out.append(str(s.f_files))
print(' '.join(out))`, mnt!])
    assert.is(py.stdout.trim(), `ENOENT ENOENT ENOTDIR EISDIR ro ${Object.keys(files).length}`, py.stderr)
  })

  it('the kernel page cache is kept across opens while the version is unchanged', async () => {
    const path = `${mnt}/eval/e.rec`
    await run('cat', [path])
    const before = operations('read')
    const opensBefore = operations('open')
    for (let i = 0; i < 3; i++) {
      const r = await run('sha256sum', [path])
      assert.is(r.stdout.split(' ')[0], sha(files['eval/e.rec']!))
    }
    assert.is(operations('open'), opensBefore + 3, 'each open reaches the daemon (it pins the version)')
    assert.is(operations('read'), before, 'no read reached the daemon: served from the page cache')
  })

  it('a changed object is never served stale from the page cache', async () => {
    const key = 'train/nested/deeper/x.rec'
    const path = `${mnt}/${key}`
    const v1 = files[key]!
    assert.is((await run('sha256sum', [path])).stdout.split(' ')[0], sha(v1))
    // Same size and same mtime: only the version differs.
    const v2 = patternBytes(v1.length, 999)
    put(PREFIX + key, v2)
    // The new version shows once the listing TTL and then the kernel's attribute timeout (<= 1 s)
    // have passed; until then a read gives all of v1, never a mix.
    await waitFor('the new version to be served', async () => {
      const got = (await run('sha256sum', [path])).stdout.split(' ')[0]
      assert.ok(got === sha(v1) || got === sha(v2), `neither version: ${got}`)
      return got === sha(v2)
    }, { timeoutMs: 10_000, intervalMs: 100 })
    files[key] = v2
  })

  it('an object rewritten under an open file answers ESTALE', async () => {
    const key = 'train/shard-1.rec'
    const path = `${mnt}/${key}`
    const script = `import os,sys,errno
fd=os.open(sys.argv[1], os.O_RDONLY)
os.pread(fd, 10, 0)
print('opened', flush=True)
sys.stdin.readline()
try:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.pread(fd, 4096, 3*1024*1024)
    print('read ok')
except OSError as e:
    print(errno.errorcode[e.errno])`
    const py = spawnLong('python3', ['-c', script, path], process.env, { stdin: true })
    await py.waitForLine(/opened/)
    put(PREFIX + key, patternBytes(files[key]!.length, 1234))
    // Blocks of the opened version still in the cache are served as they are (they are that
    // version's bytes); it is a read the cache cannot answer that must fail. Make it one.
    await reader.evict(PREFIX + key)
    py.child.stdin!.end('go\n')
    const line = await py.waitForLine(/read ok|E[A-Z]+/)
    await py.exited
    assert.is(line, 'ESTALE')
  })

  it('source failures answer EIO and are logged', async () => {
    // Earlier tests left the file's blocks in the reader's cache: drop them so the read reaches the store.
    await reader.evict(PREFIX + 'many/f3.bin')
    faults.setFaults([{ kind: 'error', url: /many\/f3\.bin$/, error: (url) => new SourceError(url, 'injected failure', { status: 400 }) }])
    try {
      // Drop the pages an earlier test left in the page cache, so the read reaches the daemon.
      const py = await run('python3', ['-c', `import os,sys,errno
try:
    f=open(sys.argv[1],'rb'); os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED); f.read(); print('ok')
except OSError as e: print(errno.errorcode[e.errno])`, `${mnt}/many/f3.bin`])
      assert.is(py.stdout.trim(), 'EIO', py.stderr)
      assert.ok(logs.some((l) => l.includes('EIO') && l.includes('ERR_SLUICE_SOURCE')), logs.join('\n'))
    } finally {
      faults.setFaults([])
    }
  })

  it('new and deleted objects show up after the listing TTL', async () => {
    put(PREFIX + 'late/arrival.bin', patternBytes(10, 7))
    source.delete(PREFIX + 'one.bin')
    await waitFor('the listing to show late/ and drop one.bin', async () => {
      const names = (await run('ls', [mnt!])).stdout.split('\n')
      return names.includes('late') && !names.includes('one.bin')
    }, { timeoutMs: 10_000, intervalMs: 100 })
    assert.is((await run('cat', [`${mnt}/late/arrival.bin`])).code, 0)
  })

  it('mount stats count operations, bytes and no open files left', async () => {
    // The kernel sends RELEASE after close() has returned to the reader, so the last file
    // may still be open in the daemon for a moment (seen once in CI): wait for it, bounded.
    await waitFor('the daemon to see every file released', () => m!.stats().openFiles === 0, { timeoutMs: 5_000, intervalMs: 100 })
    const s = m!.stats()
    assert.ok(s.bytesRead > 3 * 1024 * 1024)
    assert.ok((s.operations.open ?? 0) > 10)
  })

  it('ran on the backend it names', () => {
    assert.is(m!.stats().backend, backend)
  })
})
