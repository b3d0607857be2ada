/**
 * The http(s) source's transport safety, against real servers on loopback: redirects are
 * followed within one scheme (and bounded), a redirect to another scheme is refused with an
 * error naming both URLs, and TLS certificates are verified by default (a self-signed server
 * is refused; trusting it takes NODE_EXTRA_CA_CERTS, an explicit act outside sluice).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, HttpSource } from '../lib/index.js'
import { patternBytes } from './support/data.js'
import { announceSkip, testUnless } from './support/skip.js'

const BODY = patternBytes(50_000, 'http-security')

/** Undefined when openssl can make the self-signed certificate the TLS case needs, else why not. */
function opensslSkipReason(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `openssl is not available (${(err as Error).message})`
  }
}
const withOpenssl = testUnless(announceSkip('security-http', 'the TLS case', opensslSkipReason()))

function handler(base: () => string) {
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const url = req.url ?? '/'
    if (url.startsWith('/hop/')) {
      const n = Number(url.slice(5))
      res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/data.bin' }).end()
    } else if (url === '/to-other-scheme') {
      res.writeHead(301, { location: base().replace(/^http:/, 'https:').replace(/^https:\/\/127/, (m) => m) + '/data.bin' }).end()
    } else if (url === '/to-ftp') {
      res.writeHead(302, { location: 'ftp://127.0.0.1/data.bin' }).end()
    } else if (url === '/data.bin') {
      const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')
      const headers = { etag: '"v1"', 'accept-ranges': 'bytes' }
      if (range) {
        const [s, e] = [Number(range[1]), Number(range[2])]
        res.writeHead(206, { ...headers, 'content-length': e - s + 1, 'content-range': `bytes ${s}-${e}/${BODY.length}` })
        res.end(req.method === 'HEAD' ? undefined : BODY.subarray(s, e + 1))
      } else {
        res.writeHead(200, { ...headers, 'content-length': BODY.length })
        res.end(req.method === 'HEAD' ? undefined : BODY)
      }
    } else res.writeHead(404).end()
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return (server.address() as { port: number }).port
}

let http: Server
let base = ''
test.before(async () => {
  http = createServer(handler(() => base))
  base = `http://127.0.0.1:${await listen(http)}`
})
test.after(async () => {
  http.closeAllConnections()
  await new Promise((r) => http.close(r))
})

async function code(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p
  } catch (err) {
    return err as { code?: string; message: string }
  }
  assert.unreachable('expected a rejection')
  throw new Error('unreachable')
}

test('same-scheme redirects are followed, for stat and ranged reads', async () => {
  const reader = new BlockReader({ memory: { maxBytes: 1 << 20 }, blockSize: 16384 })
  const h = await reader.open(`${base}/hop/3`)
  assert.is(h.size, BODY.length)
  assert.ok(Buffer.from(await h.read(0, h.size)).equals(BODY))
  await reader.close()
})

test('more than five redirects is an error, not a loop', async () => {
  const err = await code(new HttpSource().stat(`${base}/hop/9`))
  assert.is(err.code, 'ERR_SLUICE_SOURCE')
  assert.match(err.message, 'more than 5 redirects')
})

test('a redirect to another scheme is refused, naming both URLs', async () => {
  for (const path of ['/to-other-scheme', '/to-ftp']) {
    const err = await code(new HttpSource().stat(`${base}${path}`))
    assert.is(err.code, 'ERR_SLUICE_SOURCE', err.message)
    assert.match(err.message, 'refusing redirect')
    assert.match(err.message, `${base}${path}`)
  }
  // Through the reader too: the error surfaces, no bytes are read from the other scheme.
  const reader = new BlockReader({ memory: { maxBytes: 1 << 20 }, retry: { maxAttempts: 2, baseDelayMs: 1 } })
  const err = await code(reader.open(`${base}/to-other-scheme`))
  assert.match(err.message, 'redirects never change the scheme')
  await reader.close()
})

withOpenssl('TLS certificates are verified by default: a self-signed https server is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-tls-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' })
    let httpsBase = ''
    const https = createHttpsServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, handler(() => httpsBase))
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r))
    httpsBase = `https://127.0.0.1:${(https.address() as { port: number }).port}`
    try {
      const err = await code(new HttpSource().stat(`${httpsBase}/data.bin`))
      assert.ok(err.code === 'ERR_SLUICE_SOURCE' || err.code === 'ERR_SLUICE_UNREACHABLE', err.message)
      assert.match(err.message, /CERT|certificate|SELF_SIGNED/i)
    } finally {
      https.closeAllConnections()
      await new Promise((r) => https.close(r))
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
