/**
 * Everything about the directory a mount lands on: checking it before mounting, finding
 * mounts in /proc/self/mountinfo, and unmounting with fusermount.
 *
 * The checks exist to turn libfuse's terse failures into sentences that say what to do: a
 * missing directory, a directory that is already a mount point, a non-empty one, and above
 * all the stale mount a killed daemon leaves behind ("Transport endpoint is not connected"),
 * which only `fusermount -u` clears. All of it is asynchronous: this code also runs inside the
 * mounting process, where a synchronous call that touches the mount would deadlock.
 */
import { execFile } from 'node:child_process'
import { readdir, readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'

export type MountErrorReason =
  | 'missing'
  | 'not-directory'
  | 'not-empty'
  | 'busy'
  | 'stale'
  | 'not-mounted'
  | 'unavailable'
  | 'failed'

/** A mount or unmount could not happen; the message says why and what to run. */
export class MountError extends Error {
  readonly code = 'ERR_SLUICE_MOUNT'
  readonly reason: MountErrorReason
  readonly mountpoint: string | undefined
  constructor(reason: MountErrorReason, message: string, options: { mountpoint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MountError'
    this.reason = reason
    this.mountpoint = options.mountpoint
  }
}

export interface MountEntry {
  mountpoint: string
  fstype: string
  source: string
}

/** Mounts visible to this process, from /proc/self/mountinfo. */
export async function listMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    const dash = fields.indexOf('-')
    if (fields.length < 10 || dash < 6) continue
    entries.push({
      mountpoint: unescapeMountinfo(fields[4]!),
      fstype: fields[dash + 1] ?? '',
      source: unescapeMountinfo(fields[dash + 2] ?? ''),
    })
  }
  return entries
}

function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

export async function findMount(dir: string): Promise<MountEntry | undefined> {
  const target = resolve(dir)
  const mounts = await listMounts()
  // The last entry wins: later mounts stack on top of earlier ones.
  return mounts.filter((m) => m.mountpoint === target).pop()
}

function staleMessage(dir: string): string {
  return `${dir} is a stale FUSE mount left by a process that exited without unmounting ` +
    `(Transport endpoint is not connected); clear it with: fusermount -u ${dir}`
}

/** Rejects with a MountError unless `dir` is an existing, empty directory that is not mounted on. */
export async function checkMountpoint(dir: string): Promise<void> {
  const target = resolve(dir)
  let info
  try {
    info = await stat(target)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') {
      throw new MountError('stale', staleMessage(target), { mountpoint: target, cause: err })
    }
    if (code === 'ENOENT') {
      throw new MountError('missing', `mountpoint ${target} does not exist; create it first: mkdir -p ${target}`, {
        mountpoint: target,
        cause: err,
      })
    }
    throw new MountError('failed', `cannot use mountpoint ${target}: ${(err as Error).message}`, { mountpoint: target, cause: err })
  }
  if (!info.isDirectory()) throw new MountError('not-directory', `mountpoint ${target} is not a directory`, { mountpoint: target })
  const existing = await findMount(target)
  // stat may have been answered from the kernel's attribute cache; a listing always asks.
  if (existing !== undefined && (await isStaleMount(target))) {
    throw new MountError('stale', staleMessage(target), { mountpoint: target })
  }
  if (existing !== undefined) {
    throw new MountError(
      'busy',
      `${target} is already a mount point (${existing.fstype} ${existing.source}); ` +
        `unmount it first: ${existing.fstype === 'fuse.sluice' ? 'sluice unmount' : 'umount'} ${target}`,
      { mountpoint: target },
    )
  }
  const entries = await readdir(target)
  if (entries.length > 0) {
    throw new MountError('not-empty', `mountpoint ${target} is not empty (${entries.length} entries); mount on an empty directory`, {
      mountpoint: target,
    })
  }
}

/**
 * True when `dir` is a stale FUSE mount (its daemon is gone). Probes with a directory
 * listing, not stat: the kernel may answer stat from its attribute cache for a while after
 * the daemon died, but opening a directory always reaches the daemon.
 */
export async function isStaleMount(dir: string): Promise<boolean> {
  try {
    await readdir(resolve(dir))
    return false
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOTCONN' || code === 'ECONNABORTED'
  }
}

export { staleMessage as staleMountMessage }

function run(file: string, args: string[]): Promise<{ ok: boolean; stderr: string; missing: boolean }> {
  return new Promise((done) => {
    execFile(file, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      const missing = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
      done({ ok: err === null, stderr: String(stderr).trim() || (err?.message ?? ''), missing })
    })
  })
}

/**
 * Unmounts `dir` with `fusermount -u` (or `umount` where fusermount is missing). `lazy`
 * detaches even while files are open (`-z`). Works on stale mounts too.
 */
export async function unmountPath(dir: string, options: { lazy?: boolean } = {}): Promise<void> {
  const target = resolve(dir)
  const stale = await isStaleMount(target)
  if (!stale && (await findMount(target)) === undefined) {
    throw new MountError('not-mounted', `${target} is not mounted`, { mountpoint: target })
  }
  let result = await run('fusermount', options.lazy ? ['-u', '-z', target] : ['-u', target])
  if (result.missing) result = await run('umount', options.lazy ? ['-l', target] : [target])
  if (result.ok) return
  if (/busy/i.test(result.stderr)) {
    throw new MountError('busy', `${target} is busy (files are open under it); close them, or detach now with: sluice unmount --lazy ${target}`, {
      mountpoint: target,
    })
  }
  throw new MountError('failed', `unmounting ${target} failed: ${result.stderr}`, { mountpoint: target })
}
