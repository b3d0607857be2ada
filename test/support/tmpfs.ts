/**
 * A small tmpfs mounted for a test, the way to give a cache directory a disk that fills up
 * for real. Mounting needs root: `tmpfsSkipReason` says why it cannot be done here (probed
 * once, at module load, as skip reasons must be), and the tests that need it are skipped.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
}

/** Lazy: a busy mount (a reader left open by a failed assertion) must not hide the failure. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', ['-l', dir])
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
