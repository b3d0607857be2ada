/**
 * Credentials never leak: with a recognisable secret key (and session token) configured, the
 * test provokes every failure it can (signature rejected by s3rver, store unreachable, stalls
 * cut by the timeout) and scans what a user or a log collector could see: error messages,
 * stacks and cause chains, `reader.stats()`, the CLI's stdout and stderr, and the CLI's
 * process title and command line while it runs. The secret must appear in none of them.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFile } from 'node:fs/promises'
import { inspect } from 'node:util'
import { BlockReader } from '../lib/index.js'
import { startFaultProxy } from '../lib/testing/index.js'
import { run, spawnLong, type RunResult } from './support/fuse-env.js'
import { startTestS3, type TestS3 } from './support/s3.js'
import { waitFor } from './support/wait.js'

const SECRET = 'SLUICEsecretKEY0123456789abcdefLEAKCHECK'
const TOKEN = 'SLUICEsessionTOKENleakcheck987'
const SLUICE_BIN = new URL('../bin/sluice.js', import.meta.url).pathname
let s3: TestS3
test.before(async () => {
  s3 = await startTestS3(['data'])
  await s3.put('data', 'obj', new Uint8Array(1000))
})
test.after(async () => s3.close())

function clean(what: string, text: string, token = true): void {
  assert.not.ok(text.includes(SECRET), `${what} contains the secret key: ${text.slice(0, 2000)}`)
  if (token) assert.not.ok(text.includes(TOKEN), `${what} contains the session token`)
}

/** Everything an error exposes: message, stack, cause chain, own properties (via inspect). */
const exposed = (err: unknown) => inspect(err, { depth: 10, showHidden: true }) + JSON.stringify(err, Object.getOwnPropertyNames(err ?? {}))

test('errors and stats from the API never carry the credentials', async () => {
  const credentials = { accessKeyId: 'AKIASLUICETEST', secretAccessKey: SECRET, sessionToken: TOKEN }
  const proxy = await startFaultProxy({ target: s3.server.endpoint, faults: [{ kind: 'stall', rate: 1, methods: ['GET', 'HEAD'] }] })
  const endpoints = { rejected: s3.server.endpoint, unreachable: 'http://127.0.0.1:9', stalled: proxy.endpoint }
  let errors = 0
  for (const [name, endpoint] of Object.entries(endpoints)) {
    const reader = new BlockReader({ s3: { ...s3.server.s3, endpoint, credentials }, retry: { maxAttempts: 2, baseDelayMs: 1, requestTimeoutMs: 300 } })
    for (const op of [() => reader.open('s3://data/obj'), () => reader.list('s3://data/'), () => reader.stat('s3://data/obj')]) {
      try {
        await op()
        assert.unreachable(`${name}: succeeded`)
      } catch (err) {
        clean(`${name} error message`, String(err) + (err as Error).stack)
        clean(`${name} error`, exposed(err))
        errors++
      }
    }
    clean(`${name} stats`, JSON.stringify(reader.stats()))
    await reader.close()
  }
  await proxy.close()
  assert.is(errors, 9)
})

// The AWS SDK's error object holds the signed request, `x-amz-security-token` included, so
// S3Source keeps only a summary of it as `cause` (this found the leak, now fixed).
test('the session token does not appear in an error\'s inspected cause chain', async () => {
  const reader = new BlockReader({ s3: { ...s3.server.s3, credentials: { accessKeyId: 'AKIASLUICETEST', secretAccessKey: SECRET, sessionToken: TOKEN } }, retry: { maxAttempts: 1 } })
  try {
    await reader.open('s3://data/obj')
    assert.unreachable('opened with a bad signature')
  } catch (err) {
    clean('inspected access-denied error', exposed(err))
  } finally {
    await reader.close()
  }
})

test('the CLI never prints the credentials, nor shows them in its process title or command line', async () => {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIASLUICETEST', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN, AWS_REGION: 'us-east-1', SLUICE_CACHE_DIR: '' }
  for (const args of [['ls', 's3://data/', '--endpoint', s3.server.endpoint], ['cat', 's3://data/obj', '--endpoint', s3.server.endpoint], ['stats', '--json'], ['ls', 's3://data/', '--endpoint', 'http://127.0.0.1:9']]) {
    const r = await run(process.execPath, [SLUICE_BIN, ...args], { env, timeoutMs: 60_000 })
    clean(`sluice ${args.join(' ')} output`, r.stdout + r.stderr)
  }
  // While a command waits on a stalled store, its title and command line are public (ps).
  const proxy = await startFaultProxy({ target: s3.server.endpoint, faults: [{ kind: 'stall', rate: 1, methods: ['GET', 'HEAD'] }] })
  const p = spawnLong(process.execPath, [SLUICE_BIN, 'cat', 's3://data/obj', '--endpoint', proxy.endpoint], env)
  let cmdline: string
  let comm: string
  let ps: RunResult
  try {
    // Once the store has been asked, the command is running and stalled on it.
    const exited = () => p.child.exitCode !== null || p.child.signalCode !== null
    const state = await waitFor('the CLI to reach the stalled store (or exit)', () => ((proxy.injected.stall ?? 0) > 0 ? 'stalled' : exited() ? 'exited' : undefined), { timeoutMs: 20_000 })
    assert.is(state, 'stalled', `sluice cat exited before reaching the store: ${p.stderrLines.join(' | ')}`)
    const pid = p.child.pid!
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    comm = await readFile(`/proc/${pid}/comm`, 'utf8')
    ps = await run('ps', ['-o', 'args=', '-p', String(pid)])
    assert.not.ok(exited(), `the command was still running while its title was read: ${p.stderrLines.join(' | ')}`)
  } finally {
    p.kill('SIGKILL')
    await p.exited
    await proxy.close()
  }
  // What was read is the live command's: the scan below looked at something real.
  assert.match(cmdline.split('\0').join(' '), `${SLUICE_BIN} cat s3://data/obj`)
  assert.ok(comm.trim() !== '', 'process title read')
  assert.is(ps.code, 0, ps.stderr)
  assert.match(ps.stdout, 'cat s3://data/obj')
  clean('process command line', cmdline + comm + ps.stdout)
  clean('stalled cat output', p.stdoutLines.join('\n') + p.stderrLines.join('\n'))
})

test.run()
