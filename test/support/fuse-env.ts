/**
 * What FUSE tests share: whether mounting can work here (and why not, printed when skipping),
 * temporary mountpoints that are always unmounted and removed, and child processes with hard
 * time limits. Children are always spawned asynchronously: the mount may be served by this
 * very process, and a synchronous spawn would block the event loop that has to answer them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { suite, test as uvuTest } from 'uvu'
import { fuseAvailability, type FuseBackendChoice, type FuseBackendName } from '../../fuse/index.js'
import { findMount, isStaleMount } from '../../fuse/mountpoint.js'
import { announceSkip, testUnless } from './skip.js'

/** Both bindings; every mount test runs once on each, as a real mount. */
export const BACKENDS: readonly FuseBackendName[] = ['libfuse3', 'fuse-native']

/** Resolves to undefined when FUSE works (with `backend`), else the reason (printed once). */
export async function fuseSkipReason(suiteName: string, backend: FuseBackendChoice = 'auto'): Promise<string | undefined> {
  const availability = await fuseAvailability(backend)
  return announceSkip(suiteName, 'FUSE tests', availability.available ? undefined : availability.reason)
}

/** `test` when FUSE works, else a `test.skip` that counts the skip. */
export function fuseTest(reason: string | undefined): typeof uvuTest {
  return testUnless(reason, uvuTest)
}

export interface BackendSuite {
  backend: FuseBackendName
  /** Registers a test, or a counted skip where this backend cannot mount. */
  it: typeof uvuTest
  /** The suite itself, for before/after hooks (they must return early when `skip` is set). */
  suite: typeof uvuTest
  skip: string | undefined
}

/**
 * Runs the tests `define` registers once per backend, each backend as its own uvu suite
 * (`name [libfuse3]`, `name [fuse-native]`), skipped with the reason printed where that
 * backend cannot mount here.
 */
export async function forEachBackend(name: string, define: (s: BackendSuite) => void): Promise<void> {
  for (const backend of BACKENDS) {
    const label = `${name} [${backend}]`
    const skip = await fuseSkipReason(label, backend)
    const s = suite(label)
    define({ backend, it: skip === undefined ? s : (s.skip as unknown as typeof uvuTest), suite: s, skip })
    s.run()
  }
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a program to completion (killed after `timeoutMs`), never throwing on failure. */
export function run(file: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((done) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 256 * 1024 * 1024, env: options.env ?? process.env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
        done({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : child.exitCode,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        })
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

/**
 * Drops the kernel's cached pages of `paths`, so the next reads reach the daemon again (the
 * mount keeps pages across opens while an object's version is unchanged).
 */
export async function dropPageCache(paths: string[]): Promise<void> {
  const r = await run('python3', ['-c', `import os,sys
for p in sys.argv[1:]:
    fd=os.open(p, os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)`, ...paths])
  if (r.code !== 0) throw new Error(`dropping the page cache failed (${r.code ?? r.signal}): ${r.stderr}`)
}

/**
 * Reads a file from python3 after dropping its cached pages (so every byte comes from the
 * daemon), `chunkBytes` per read; stdout is the sha256 of its bytes.
 */
export function shaUncached(path: string, chunkBytes: number): Promise<RunResult> {
  return run('python3', ['-c', `import os,sys,hashlib
fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)
h=hashlib.sha256()
while True:
    b=os.read(fd, int(sys.argv[2]))
    if not b: break
    h.update(b)
print(h.hexdigest())`, path, String(chunkBytes)])
}

/** A fresh empty directory under the temp dir. */
export async function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `sluice-${name}-`))
}

/** A fresh empty mountpoint. */
export async function tempMountpoint(name: string): Promise<string> {
  const dir = await tempDir(name)
  const mnt = join(dir, 'mnt')
  await mkdir(mnt)
  return mnt
}

/** Unmounts `mnt` if anything (live or stale) is mounted there, then removes its parent. */
export async function cleanupMountpoint(mnt: string | undefined): Promise<void> {
  if (mnt === undefined) return
  for (let i = 0; i < 3; i++) {
    if ((await findMount(mnt)) === undefined && !(await isStaleMount(mnt))) break
    await run('fusermount', ['-u', '-z', mnt], { timeoutMs: 10_000 })
  }
  await rm(join(mnt, '..'), { recursive: true, force: true }).catch(() => {})
}

/** A spawned long-running process whose output lines can be awaited. */
export interface Spawned {
  child: ChildProcess
  stdoutLines: string[]
  stderrLines: string[]
  /** Resolves with the first line (stdout or stderr) matching `pattern`; rejects after `timeoutMs` or on exit. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal?: NodeJS.Signals): void
}

export function spawnLong(file: string, args: string[], env: NodeJS.ProcessEnv = process.env, options: { stdin?: boolean } = {}): Spawned {
  const child = spawn(file, args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env })
  const stdoutLines: string[] = []
  const stderrLines: string[] = []
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>()
  const onLine = (into: string[]) => (line: string) => {
    into.push(line)
    for (const w of waiters) {
      if (w.pattern.test(line)) {
        waiters.delete(w)
        w.resolve(line)
      }
    }
  }
  createInterface({ input: child.stdout! }).on('line', onLine(stdoutLines))
  createInterface({ input: child.stderr! }).on('line', onLine(stderrLines))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }))
  })
  return {
    child,
    stdoutLines,
    stderrLines,
    exited,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    waitForLine(pattern, timeoutMs = 20_000) {
      const seen = [...stdoutLines, ...stderrLines].find((l) => pattern.test(l))
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve: (line: string) => { clearTimeout(timer); resolve(line) } }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stderr: ${stderrLines.join(' | ')}`))
        }, timeoutMs)
        waiters.add(waiter)
        void exited.then(({ code, signal }) => {
          if (!waiters.has(waiter)) return
          waiters.delete(waiter)
          clearTimeout(timer)
          reject(new Error(`process exited (${code ?? signal}) before printing ${pattern}; stderr: ${stderrLines.join(' | ')}`))
        })
      })
    },
  }
}

/** Deterministic pseudo-random bytes (fast; no crypto needed). */
export function patternBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

export { uvuTest as test }
