/**
 * The CLI exit codes the README lists and cli.test.ts does not reach: 1 (a runtime failure:
 * the store keeps failing), 4 (access denied) and 130 (interrupted by SIGINT). The built
 * `dist/bin/sluice.js` runs as a child process against s3rver, behind the fault proxy where
 * the store must fail or hang; each failure is one line on stderr ending in its code.
 */
import { rm } from 'node:fs/promises'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startFaultProxy, type FaultProxy } from '../lib/testing/index.js'
import { SLUICE_BIN, startDataset, type Dataset } from './support/fuse-dataset.js'
import { run, spawnLong, tempDir, type RunResult } from './support/fuse-env.js'
import { waitUntil } from './support/wait.js'

let d: Dataset
let proxy: FaultProxy
let cacheDir: string

test.before(async () => {
  d = await startDataset()
  proxy = await startFaultProxy({ target: d.server.endpoint })
  cacheDir = await tempDir('cli-exit')
})
test.after(async () => {
  await proxy.close()
  await d.close()
  await rm(cacheDir, { recursive: true, force: true })
})

const viaProxy = () => ({ ...d.env, AWS_ENDPOINT_URL: proxy.endpoint })

function sluiceWith(env: NodeJS.ProcessEnv, args: string[]): Promise<RunResult> {
  return run(process.execPath, [SLUICE_BIN, ...args], { env, timeoutMs: 30_000 })
}

/** The one stderr line, which must end in the error's code. */
function errorLine(r: RunResult, code: string): string {
  const lines = r.stderr.trim().split('\n')
  assert.is(lines.length, 1, `one line on stderr, got:\n${r.stderr}`)
  assert.ok(lines[0]!.endsWith(`[${code}]`), lines[0])
  return lines[0]!
}

/** Sends SIGINT to a running `sluice preload` once `ready()` holds; resolves to how it ended. */
async function interruptPreload(ready: () => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string[] }> {
  const p = spawnLong(process.execPath, [SLUICE_BIN, 'preload', 's3://sluice/ds/', '--cache-dir', cacheDir], viaProxy())
  try {
    await waitUntil(ready, 'the preload reached the stalled request', 15_000)
    p.kill('SIGINT')
    let timer: ReturnType<typeof setTimeout> | undefined
    const exited = await Promise.race([p.exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10_000)))])
    clearTimeout(timer)
    assert.ok(exited, 'sluice preload ended within 10 s of SIGINT')
    return { ...exited!, stderr: p.stderrLines }
  } finally {
    p.kill('SIGKILL')
  }
}

test('exit 1: a store that keeps failing is a runtime failure, after the retries', async () => {
  proxy.setFaults([{ kind: 'status500', rate: 1, methods: ['GET', 'HEAD'] }])
  try {
    const r = await sluiceWith(viaProxy(), ['cat', 's3://sluice/ds/eval/e.bin'])
    assert.is(r.code, 1, r.stderr)
    assert.is(r.stdout, '')
    assert.match(errorLine(r, 'ERR_SLUICE_SOURCE'), /^sluice cat: .*s3:\/\/sluice\/ds\/eval\/e\.bin.*after 5 attempts/)
  } finally {
    proxy.setFaults([])
  }
})

test('exit 4: credentials the store refuses are access denied, and the secret is not printed', async () => {
  const secret = 'not-the-s3rver-secret-4711'
  const refused = { ...d.env, AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY4711', AWS_SECRET_ACCESS_KEY: secret }
  const r = await sluiceWith(refused, ['cat', 's3://sluice/ds/eval/e.bin'])
  assert.is(r.code, 4, r.stderr)
  assert.match(errorLine(r, 'ERR_SLUICE_ACCESS_DENIED'), /^sluice cat: access denied to s3:\/\/sluice\/ds\/eval\/e\.bin/)
  assert.not.ok(`${r.stdout}${r.stderr}`.includes(secret), 'the secret never appears')
  const ls = await sluiceWith(refused, ['ls', 's3://sluice/ds/'])
  assert.is(ls.code, 4, ls.stderr)
})

test('exit 130: SIGINT while preload lists the store interrupts it', async () => {
  // The listing is the preload's first GET; the proxy never answers it.
  proxy.setFaults([{ kind: 'stall', nth: [1] }])
  const before = proxy.requests
  try {
    const r = await interruptPreload(() => proxy.requests > before)
    assert.is(r.code, 130, r.stderr.join('\n'))
    assert.ok(r.stderr.some((l) => l.startsWith('sluice preload: ') && l.endsWith('[ERR_SLUICE_ABORTED]')), r.stderr.join('\n'))
  } finally {
    proxy.setFaults([])
  }
})

test('exit 130: SIGINT while preload fetches a block interrupts it', async () => {
  // The listing passes; the first block GET is never answered.
  proxy.setFaults([{ kind: 'stall', nth: [2] }])
  const before = proxy.requests
  try {
    const r = await interruptPreload(() => proxy.requests > before + 1)
    assert.is(r.code, 130, r.stderr.join('\n'))
  } finally {
    proxy.setFaults([])
  }
})

test.run()
