/**
 * Credentials never appear in the Prometheus metrics (issue 6, Security). s3rver accepts its
 * fixed access key `S3RVER` with any secret (checked: HEAD, GET and LIST all succeed with a
 * wrong secret key and a session token), so the CLI is run for real against s3rver with
 * AWS_ACCESS_KEY_ID=S3RVER and a recognisable AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN:
 * `sluice preload --metrics-port 0` and, where FUSE works, `sluice mount --metrics-port 0`.
 * /metrics is scraped while the command runs (after it has talked to the store, so the
 * counters are live), and neither the secret nor the token may appear in the metrics text,
 * the index page, or the command's stdout and stderr.
 */
import { rm } from 'node:fs/promises'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startDataset, SLUICE_BIN, type Dataset } from './support/fuse-dataset.js'
import { cleanupMountpoint, fuseSkipReason, fuseTest, spawnLong, tempDir, tempMountpoint } from './support/fuse-env.js'

const SECRET = 'SLUICEsecretKEY0123456789abcdefMETRICSLEAK'
const TOKEN = 'SLUICEsessionTOKENmetricsleak987'
let d: Dataset
let env: NodeJS.ProcessEnv
test.before(async () => {
  d = await startDataset()
  env = { ...d.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN }
})
test.after(async () => d?.close())

function clean(what: string, text: string): void {
  assert.not.ok(text.includes(SECRET), `${what} contains the secret key: ${text.slice(0, 2000)}`)
  assert.not.ok(text.includes(TOKEN), `${what} contains the session token: ${text.slice(0, 2000)}`)
}

/** Scrapes /metrics and / (the index page). */
async function scrape(url: string): Promise<string> {
  const metrics = await fetch(url)
  assert.is(metrics.status, 200)
  const index = await fetch(url.replace(/\/metrics$/, '/'))
  return (await metrics.text()) + '\n' + (await index.text())
}

test('preload --metrics-port: the metrics, stdout and stderr never carry the credentials', async () => {
  const cache = await tempDir('metrics-leak-cache')
  // A slow progress interval keeps the process alive long enough to scrape mid-run too.
  const p = spawnLong(process.execPath, [SLUICE_BIN, 'preload', 's3://sluice/ds/', '--cache-dir', cache, '--metrics-port', '0', '--progress-interval', '50ms'], env)
  try {
    const line = await p.waitForLine(/metrics on http/)
    const url = line.match(/http:\/\/\S+/)![0]
    const texts: string[] = []
    // Scrape until the preload exits (the server closes with it); at least once.
    let exited = false
    void p.exited.then(() => (exited = true))
    while (!exited) {
      try {
        texts.push(await scrape(url))
      } catch {
        break
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    const exit = await p.exited
    assert.is(exit.code, 0, p.stderrLines.join('\n'))
    assert.ok(texts.length >= 1, 'scraped /metrics at least once while the preload ran')
    const all = texts.join('\n')
    assert.match(all, /sluice_preload_bytes/)
    for (const t of texts) clean('preload metrics', t)
    clean('preload stdout/stderr', p.stdoutLines.join('\n') + p.stderrLines.join('\n'))
  } finally {
    p.kill('SIGKILL')
    await p.exited
    await rm(cache, { recursive: true, force: true })
  }
})

const withFuse = fuseTest(await fuseSkipReason('security-metrics'))

withFuse('mount --metrics-port: the metrics, stdout and stderr never carry the credentials', async () => {
  const cache = await tempDir('metrics-leak-mount-cache')
  const mnt = await tempMountpoint('metrics-leak')
  const p = spawnLong(process.execPath, [SLUICE_BIN, 'mount', 's3://sluice/ds/', mnt, '--cache-dir', cache, '--metrics-port', '0'], env)
  try {
    const line = await p.waitForLine(/metrics on http/, 30_000)
    const url = line.match(/http:\/\/\S+/)![0]
    await p.waitForLine(/^mounted s3:\/\/sluice\/ds\/ at /, 30_000)
    // Read through the mount so the source counters move (requests signed with the secret).
    const { readFile, readdir } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const entries = await readdir(join(mnt, 'train'))
    assert.ok(entries.length > 0)
    const bytes = await readFile(join(mnt, 'eval', 'e.bin'))
    assert.is(bytes.length, d.objects['ds/eval/e.bin']!.length)
    const text = await scrape(url)
    assert.match(text, /sluice_fuse_operations_total/)
    assert.match(text, /sluice_source_bytes_total \d*[1-9]/)
    clean('mount metrics', text)
    p.kill('SIGTERM')
    const exit = await p.exited
    assert.is(exit.code, 0, p.stderrLines.join('\n'))
    clean('mount stdout/stderr', p.stdoutLines.join('\n') + p.stderrLines.join('\n'))
  } finally {
    p.kill('SIGKILL')
    await p.exited
    await cleanupMountpoint(mnt)
    await rm(cache, { recursive: true, force: true })
  }
})

test.run()
