/**
 * Cached data is owner-only whatever the directory's mode (docs/security.md): in a cache
 * directory made beforehand with mode 0755 (as operators make /var/cache/..., as a Kubernetes
 * hostPath is), directly and through a symlink, every file sluice writes (LMDB's data.mdb and
 * lock.mdb, which hold the blocks and the recorded counts, and the TFRecord record indexes)
 * is 0600 and every directory it makes is 0700. The umask is 0 while sluice creates them, so
 * a mode that relied on the umask would show as world-readable. LMDB files an older sluice
 * left 0644 are narrowed when the cache is opened.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmod, lstat, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BlockReader, KiB, MiB } from '../lib/index.js'
import { encodeTFRecords, recordIndex } from '../loaders/tfrecord/index.js'
import { patternBytes } from './support/data.js'
import { withTempDir } from './support/tfrecord-fixtures.js'

/** Runs `fn` with umask 0, so nothing sluice creates is narrowed by the umask. */
async function withoutUmask(fn: () => Promise<void>): Promise<void> {
  const old = process.umask(0)
  try {
    await fn()
  } finally {
    process.umask(old)
  }
}

/** Every file and directory under `root` (not root itself), with its permission bits. */
async function modes(root: string): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = []
  for (const name of await readdir(root)) {
    const path = join(root, name)
    const st = await lstat(path)
    out.push({ path, dir: st.isDirectory(), mode: st.mode & 0o777 })
    if (st.isDirectory()) out.push(...(await modes(path)))
  }
  return out
}

/** Fills the disk tier and stores a record index through a reader on `cacheDir`. */
async function useCache(cacheDir: string, data: string): Promise<void> {
  const blob = join(data, 'blob.bin')
  await writeFile(blob, patternBytes(300 * KiB, 'cache-files'))
  const shard = join(data, 'part-0.tfrecord')
  await writeFile(shard, encodeTFRecords([1, 2, 3].map((n) => patternBytes(1000 * n, n))))
  const reader = new BlockReader({ cacheDir, memory: { maxBytes: 4 * MiB }, disk: { maxBytes: 64 * MiB }, blockSize: 64 * KiB })
  try {
    const h = await reader.open(pathToFileURL(blob).href)
    await h.read(0, h.size)
    await h.close()
    await reader.flush()
    assert.is((await recordIndex(reader, pathToFileURL(shard).href)).offsets.length, 3)
  } finally {
    await reader.close()
  }
}

function assertPrivate(found: { path: string; dir: boolean; mode: number }[]): void {
  const names = found.map((f) => f.path.split('/').pop())
  for (const expected of ['data.mdb', 'lock.mdb', 'tfrecord-index']) assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`)
  assert.ok(names.some((n) => n!.endsWith('.idx')), `a record index in ${names.join(', ')}`)
  for (const f of found) assert.is(f.mode.toString(8), f.dir ? '700' : '600', `${f.path} has mode ${f.mode.toString(8)}`)
}

test('in a cache directory made beforehand with mode 0755, every file is 0600 and every directory 0700', async () => {
  await withTempDir(async (dir) => {
    const cacheDir = join(dir, 'cache')
    await mkdir(cacheDir)
    await chmod(cacheDir, 0o755)
    await withoutUmask(() => useCache(cacheDir, dir))
    assertPrivate(await modes(cacheDir))
    assert.is((await stat(cacheDir)).mode & 0o777, 0o755, 'the directory itself is left as its owner made it')
  })
})

test('through a symlink to such a directory, the same', async () => {
  await withTempDir(async (dir) => {
    const real = join(dir, 'real')
    await mkdir(real)
    await chmod(real, 0o755)
    const link = join(dir, 'link')
    await symlink(real, link)
    await withoutUmask(() => useCache(link, dir))
    assertPrivate(await modes(real))
  })
})

test('LMDB files an older sluice left readable by others are made 0600 when the cache opens', async () => {
  await withTempDir(async (dir) => {
    const cacheDir = join(dir, 'cache')
    await useCache(cacheDir, dir)
    for (const f of ['data.mdb', 'lock.mdb']) await chmod(join(cacheDir, f), 0o644)
    const reader = new BlockReader({ cacheDir, disk: { maxBytes: 64 * MiB } })
    await reader.ready()
    await reader.close()
    for (const f of ['data.mdb', 'lock.mdb']) assert.is((await stat(join(cacheDir, f))).mode & 0o777, 0o600, f)
  })
})

test.run()
