/**
 * The cache directory is private: created 0700, and an existing one that other users could
 * write, or a symlink another user owns, is refused with ERR_SLUICE_CACHE and an explanation,
 * both by the store itself and through BlockReader.ready(). A symlink the user owns is
 * resolved and its target checked the same way. The ownership cases need root to hand files
 * to another uid; they skip with a printed reason otherwise.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmod, lchown, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader } from '../lib/index.js'
import { prepareCacheDir } from '../lib/cache/cache-dir.js'

const isRoot = process.getuid?.() === 0
const OTHER_UID = 65534 // nobody

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-cachedir-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function refused(path: string, pattern: RegExp): Promise<void> {
  try {
    prepareCacheDir(path)
    assert.unreachable(`${path} was accepted`)
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_CACHE', String(err))
    assert.match((err as Error).message, pattern)
    assert.match((err as Error).message, path)
  }
  // And through the public API: ready() rejects with the same code and reason.
  const reader = new BlockReader({ cacheDir: path })
  try {
    await reader.ready()
    assert.unreachable('reader opened an unsafe cache directory')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_CACHE')
    assert.match((err as Error).message, pattern)
  } finally {
    await reader.close().catch(() => {})
  }
}

test('a new cache directory (and its missing parents) is created owner-only', async () => {
  await withDir(async (dir) => {
    const old = process.umask(0)
    try {
      const cacheDir = join(dir, 'a', 'b', 'cache')
      const reader = new BlockReader({ cacheDir })
      await reader.ready()
      assert.is((await stat(cacheDir)).mode & 0o777, 0o700)
      assert.is((await stat(join(dir, 'a'))).mode & 0o777, 0o700)
      await reader.close()
    } finally {
      process.umask(old)
    }
  })
})

test('an existing private directory is used, its mode left as the user set it', async () => {
  // Readable by others is the user's choice; writable is not.
  for (const mode of [0o700, 0o755]) {
    await withDir(async (dir) => {
      await chmod(dir, mode)
      assert.not.throws(() => prepareCacheDir(dir), `mode ${mode.toString(8)} accepted`)
      assert.is((await stat(dir)).mode & 0o777, mode, 'prepareCacheDir does not change the mode')
      const reader = new BlockReader({ cacheDir: dir })
      try {
        await reader.ready()
        assert.ok((await readdir(dir)).includes('data.mdb'), `the disk tier lives in ${dir}: ${(await readdir(dir)).join(', ')}`)
        assert.is((await stat(dir)).mode & 0o777, mode, 'nor does opening the reader')
      } finally {
        await reader.close()
      }
    })
  }
})

test('a directory writable by others or by the group is refused, with the fix', async () => {
  await withDir(async (dir) => {
    const cache = join(dir, 'cache')
    await mkdir(cache)
    await chmod(cache, 0o777)
    await refused(cache, /writable by other users \(mode 0777\).*chmod 700/)
    await chmod(cache, 0o770)
    await refused(cache, /writable by other users/)
  })
})

test('a path that is a file is refused', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'f'), 'x')
    await refused(join(dir, 'f'), /not a directory/)
  })
})

test('a symlink of the user\'s own is resolved: a target writable by others, or not a directory, is refused', async () => {
  await withDir(async (dir) => {
    const open = join(dir, 'open')
    await mkdir(open)
    await chmod(open, 0o777)
    await symlink(open, join(dir, 'to-open'))
    await refused(join(dir, 'to-open'), /writable by other users \(mode 0777\)/)
    await writeFile(join(dir, 'file'), 'x')
    await symlink(join(dir, 'file'), join(dir, 'to-file'))
    await refused(join(dir, 'to-file'), /not a directory/)
  })
})

const rootOnly = isRoot ? test : test.skip
if (!isRoot) console.log('[security-cache-dir] SKIPPING ownership cases: they need root to chown to another uid')

rootOnly('a symlink owned by another user is refused; one owned by the user is followed', async () => {
  await withDir(async (dir) => {
    const real = join(dir, 'real')
    await mkdir(real, { mode: 0o700 })
    const mine = join(dir, 'mine')
    await symlink(real, mine)
    prepareCacheDir(mine)
    const theirs = join(dir, 'theirs')
    await symlink(real, theirs)
    await lchown(theirs, OTHER_UID, OTHER_UID)
    await refused(theirs, /symlink owned by another user \(uid 65534\)/)
  })
})

rootOnly('a directory owned by another user is refused, directly or through a symlink of the user\'s own', async () => {
  await withDir(async (dir) => {
    const cache = join(dir, 'cache')
    await mkdir(cache, { mode: 0o700 })
    await lchown(cache, OTHER_UID, OTHER_UID)
    await refused(cache, /owned by another user \(uid 65534/)
    await symlink(cache, join(dir, 'link'))
    await refused(join(dir, 'link'), /owned by another user \(uid 65534/)
  })
})

test.run()
