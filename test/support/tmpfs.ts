/**
 * A small tmpfs mounted for a test, the way to give a cache directory a disk that fills up
 * for real. Mounting needs root: `tmpfsSkipReason` says why it cannot be done here (probed
 * once, at module load, as skip reasons must be), and the tests that need it are skipped.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'

export function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
}

/** A fresh temp directory with a tmpfs of `size` (`16m`) mounted on it. */
export async function tmpfsDir(prefix: string, size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  try {
    mountTmpfs(dir, size)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return dir
}

/** Unmounts and removes a `tmpfsDir`. Lazy: a busy mount (a reader left open by a failed assertion) must not hide the failure. */
export async function removeTmpfsDir(dir: string): Promise<void> {
  execFileSync('umount', ['-l', dir])
  await rm(dir, { recursive: true, force: true })
}

/** Fills the file system under `path` (a file it creates there) to the last byte it takes. */
export async function fillUp(path: string): Promise<void> {
  try {
    await writeFile(path, Buffer.alloc(64 * 1024 * 1024))
    assert.unreachable('the tmpfs should have filled up')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
}

/** Undefined when a tmpfs can be mounted here (tried once, then unmounted), else why not. */
export function tmpfsSkipReason(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-full-probe-'))
  try {
    mountTmpfs(dir, '1m')
    execFileSync('umount', [dir])
    return undefined
  } catch (err) {
    return `cannot mount a small tmpfs: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
