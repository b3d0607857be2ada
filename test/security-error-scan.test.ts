/**
 * Secrets never leave through an error (docs/security.md). Every URL here carries planted
 * secrets, each containing the marker PLANTED: a password in the userinfo (one plain, one
 * with a quote and a space, which JSON-quoting and regexes treat differently) and presigned
 * query parameters (signature, credential, session token). The suite provokes every failure
 * it can against a real HTTP server on loopback, and every error it gets is scanned whole:
 * message, stack, every link of the cause chain, `util.inspect` with hidden properties, and
 * its own properties as JSON. Stats and preload results are scanned too. A final check makes
 * sure the errors covered every code the scenarios are meant to produce.
 *
 * S3 secret keys and session tokens are test/security-secrets.test.ts's part.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import { inspect } from 'node:util'
import {
  AbortError,
  AccessDeniedError,
  BlockReader,
  BucketNotFoundError,
  CacheError,
  HttpSource,
  InvalidUrlError,
  NotFoundError,
  ObjectChangedError,
  S3Source,
  ShortReadError,
  SourceError,
  SourceUnreachableError,
  TFRecordCorruptionError,
  TimeoutError,
  UnsupportedOperationError,
  UnsupportedSchemeError,
  type ObjectInfo,
  type Source,
} from '../lib/index.js'
import { encodeTFRecords, recordAt } from '../loaders/tfrecord/index.js'
import { patternBytes } from './support/data.js'

const MARK = 'PLANTED'
const PRESIGNED = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F${MARK}cred&X-Amz-Security-Token=${MARK}token&X-Amz-Signature=${MARK}sig`
const USERINFOS = [`reader:${MARK}password`, `reader:${MARK}"pass word`]
const BODY = patternBytes(10_000, 'error-scan')
const CORRUPT = (() => {
  const shard = Buffer.from(encodeTFRecords([patternBytes(500, 'r0'), patternBytes(500, 'r1')]))
  shard[12 + 100]! ^= 0xff // a byte of the first record's data: its data CRC fails
  return shard
})()

let server: Server
let base = ''
let requests = 0
/** A loopback port nothing listens on (fetch refuses well-known ones such as 9 outright). */
let closedPort = 0
test.before(async () => {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  closedPort = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  server = createServer((req, res) => {
    requests++
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const send = (status: number, headers: Record<string, string | number>, body?: Uint8Array) =>
      res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body)
    const object = (bytes: Uint8Array, etag: string) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')
      if (!m) return send(200, { etag, 'content-length': bytes.length }, bytes)
      const [s, e] = [Number(m[1]), Math.min(Number(m[2]), bytes.length - 1)]
      send(206, { etag, 'content-length': e - s + 1, 'content-range': `bytes ${s}-${e}/${bytes.length}` }, bytes.subarray(s, e + 1))
    }
    switch (path) {
      case '/ok':
        return object(BODY, '"v1"')
      case '/forbidden':
        return send(403, { 'content-length': 0 })
      case '/broken':
        return send(500, { 'content-length': 0 })
      case '/changing':
        return object(BODY, req.method === 'HEAD' ? '"v1"' : '"v2"')
      case '/short': {
        // Chunked, ended early: no length to hold it to, so sluice counts the bytes itself.
        if (req.method === 'HEAD') return send(200, { etag: '"v1"', 'content-length': BODY.length })
        const s = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0)
        res.writeHead(206, { etag: '"v1"', 'content-range': `bytes ${s}-${BODY.length - 1}/${BODY.length}` })
        return res.end(BODY.subarray(s, s + 100))
      }
      case '/to-other-scheme':
        return send(302, { location: `https://${USERINFOS[0]}@127.0.0.1/x?${PRESIGNED}`, 'content-length': 0 })
      case '/to-nowhere':
        return send(302, { location: `http://${USERINFOS[0]}@[bad/x?${PRESIGNED}`, 'content-length': 0 })
      case '/loop':
        return send(302, { location: `/loop?${PRESIGNED}`, 'content-length': 0 })
      case '/stall':
        return // never answers: the request timeout ends it
      case '/corrupt.tfrecord':
        return object(CORRUPT, '"c1"')
      default:
        return send(404, { 'content-length': 0 })
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
test.after(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

/** Where in `err` the marker shows, or undefined: every way a log or a console shows an error. */
function leak(err: unknown): string | undefined {
  const views: [string, string][] = [
    ['String()', String(err)],
    ['util.inspect', inspect(err, { showHidden: true, depth: Infinity })],
    ['console-style inspect', inspect(err)],
    ['JSON of own properties', JSON.stringify(err, Object.getOwnPropertyNames(err ?? {}))],
  ]
  let link: unknown = err
  for (let depth = 0; link !== undefined && link !== null && depth < 20; depth++) {
    const e = link as { message?: unknown; stack?: unknown; cause?: unknown }
    views.push([`cause #${depth} message`, String(e.message)], [`cause #${depth} stack`, String(e.stack)])
    for (const key of Object.getOwnPropertyNames(link)) {
      const v = (link as Record<string, unknown>)[key]
      if (typeof v === 'string') views.push([`cause #${depth} .${key}`, v])
    }
    link = e.cause
  }
  const hit = views.find(([, text]) => text.includes(MARK))
  return hit && `${hit[0]}: ${hit[1].slice(0, 1500)}`
}

const seen = new Map<string, number>()
function scan(what: string, err: unknown): void {
  const where = leak(err)
  assert.not.ok(where, `${what}: a planted secret shows in ${where}`)
  const code = String((err as { code?: unknown })?.code)
  seen.set(code, (seen.get(code) ?? 0) + 1)
}

async function failure(what: string, p: Promise<unknown> | (() => unknown)): Promise<{ code?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    scan(what, err)
    return err as { code?: string; message: string }
  }
  assert.unreachable(`${what}: succeeded`)
  throw new Error('unreachable')
}

const presigned = (path: string) => `${base}${path}?${PRESIGNED}`
const newReader = () => new BlockReader({ memory: { maxBytes: 1 << 20 }, retry: { maxAttempts: 2, baseDelayMs: 1, requestTimeoutMs: 300 } })

test('credentials in a URL are refused before any request, with a clear error, through every entry point', async () => {
  const reader = newReader()
  try {
    for (const userinfo of USERINFOS) {
      const before = requests
      for (const url of [`${base.replace('//', `//${userinfo}@`)}/ok`, `s3://${userinfo}@bucket/key`, `file://${userinfo}@localhost/etc/hostname`]) {
        const info: ObjectInfo = { url, size: BODY.length, version: '"v1"' }
        for (const [how, p] of [
          ['open', () => reader.open(url)],
          ['stat', () => reader.stat(url)],
          ['read of a given ObjectInfo', async () => (await reader.open(info)).read(0, 10)],
          // preload reports failures in its result; its message and code are what is scanned.
          ['preload', async () => {
            const failed = (await reader.preload([url])).failed[0]
            throw Object.assign(new Error(failed?.message), { code: failed?.code })
          }],
        ] as const) {
          const err = await failure(`${how} ${url}`, p)
          assert.is(err.code, 'ERR_SLUICE_INVALID_URL', `${how}: ${err.message}`)
          assert.match(err.message, /credentials in a URL \(user:password@\) are not accepted/)
        }
      }
      // Sources used directly refuse too: HttpSource before fetch, S3Source when parsing.
      const direct = await failure('HttpSource.stat', new HttpSource().stat(`${base.replace('//', `//${userinfo}@`)}/ok`))
      assert.is(direct.code, 'ERR_SLUICE_INVALID_URL')
      const s3 = new S3Source({ region: 'us-east-1', credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'x' } })
      assert.is((await failure('S3Source.stat', s3.stat(`s3://${userinfo}@bucket/key`))).code, 'ERR_SLUICE_INVALID_URL')
      await s3.close()
      assert.is(requests, before, 'no request reached the server')
    }
    const where = leak(JSON.stringify(reader.stats()))
    assert.not.ok(where, `stats: ${where}`)
  } finally {
    await reader.close()
  }
})

test('every failure of a presigned URL is scanned: store answers, redirects, timeouts, outages, corrupt records', async () => {
  const reader = newReader()
  try {
    const expect = async (what: string, code: string, p: Promise<unknown> | (() => unknown)) => {
      const err = await failure(what, p)
      assert.is(err.code, code, `${what}: ${err.message}`)
      assert.match(err.message, /REDACTED|127\.0\.0\.1/, `${what}: the message still names the object: ${err.message}`)
    }
    await expect('404', 'ERR_SLUICE_NOT_FOUND', reader.open(presigned('/missing')))
    await expect('403', 'ERR_SLUICE_ACCESS_DENIED', reader.open(presigned('/forbidden')))
    await expect('500', 'ERR_SLUICE_SOURCE', reader.open(presigned('/broken')))
    await expect('redirect to another scheme', 'ERR_SLUICE_SOURCE', reader.stat(presigned('/to-other-scheme')))
    await expect('redirect to an invalid URL', 'ERR_SLUICE_SOURCE', reader.stat(presigned('/to-nowhere')))
    await expect('redirect loop', 'ERR_SLUICE_SOURCE', reader.stat(presigned('/loop')))
    await expect('no answer', 'ERR_SLUICE_TIMEOUT', reader.stat(presigned('/stall')))
    await expect('nothing listening', 'ERR_SLUICE_UNREACHABLE', reader.stat(`http://127.0.0.1:${closedPort}/x?${PRESIGNED}`))
    await expect('listing over http', 'ERR_SLUICE_UNSUPPORTED', reader.list(presigned('/')))
    await expect('ETag changed', 'ERR_SLUICE_OBJECT_CHANGED', async () => (await reader.open(presigned('/changing'))).read(0, 100))
    await expect('body cut short', 'ERR_SLUICE_SHORT_READ', async () => (await reader.open(presigned('/short'))).read(0, 5000))
    await expect('corrupt record', 'ERR_SLUICE_TFRECORD_CORRUPT', recordAt(reader, presigned('/corrupt.tfrecord'), 0))
    const aborted = new AbortController()
    const stalled = reader.stat(presigned('/stall'), { signal: aborted.signal })
    aborted.abort(new Error(`aborted while reading ${presigned('/stall')}`))
    await expect('aborted', 'ERR_SLUICE_ABORTED', stalled)
    const where = leak(JSON.stringify(reader.stats()))
    assert.not.ok(where, `stats: ${where}`)
  } finally {
    await reader.close()
  }
})

test("a source's own error that quotes the URL with its credentials is redacted, cause chain included", async () => {
  // A user-supplied source owns its URLs' syntax (userinfo is not refused for it), and it
  // fails the way libraries do: a plain Error whose message, and whose own cause, quote the URL.
  const quoting: Source = {
    schemes: ['vault'],
    async stat(url) {
      throw new Error(`cannot open ${url}`, { cause: Object.assign(new Error(`GET ${url} refused`), { code: 'EVAULT', url }) })
    },
    async readRange() {
      throw new Error('unused')
    },
    async list(prefix) {
      throw new Error(`cannot list ${prefix}`)
    },
  }
  const reader = new BlockReader({ sources: [quoting], retry: { maxAttempts: 1 } })
  try {
    for (const userinfo of USERINFOS) {
      const err = await failure('custom source stat', reader.stat(`vault://${userinfo}@store/obj?${PRESIGNED}`))
      assert.is(err.code, 'ERR_SLUICE_SOURCE')
      const cause = (err as { cause?: { code?: string; cause?: { code?: string } } }).cause
      assert.is(cause?.cause?.code, 'EVAULT', 'the cause chain keeps its codes')
      await failure('custom source list', reader.list(`vault://${userinfo}@store/?${PRESIGNED}`))
    }
  } finally {
    await reader.close()
  }
})

test('the error from the issue: a fetch refused for credentials, kept as a cause, prints no password', async () => {
  for (const userinfo of USERINFOS) {
    const url = `https://${userinfo}@127.0.0.1:9/path?${PRESIGNED}`
    let raw: unknown
    try {
      await fetch(url)
    } catch (err) {
      raw = err
    }
    assert.ok(raw instanceof TypeError && inspect(raw).includes(MARK), 'fetch itself prints the URL with its secrets')
    const err = new SourceError(url, (raw as Error).message, { cause: raw })
    scan('SourceError caused by fetch', err)
    assert.is((err.cause as Error).name, 'TypeError')
    assert.match((err.cause as Error).message, /Request cannot be constructed from a URL that includes credentials: https:\/\/127\.0\.0\.1:9\/path/)
  }
})

test('every error class redacts the URL it is given, and a cause that quotes it', () => {
  for (const userinfo of USERINFOS) {
    for (const url of [`https://${userinfo}@host/o?${PRESIGNED}`, `s3://${userinfo}@bucket/o?${PRESIGNED}`]) {
      const cause = new Error(`failed on ${url} (${JSON.stringify(url)})`)
      const errors = [
        new InvalidUrlError(url, `bad bucket "${url.split('/')[2]}"`),
        new UnsupportedSchemeError(url, 'x', ['s3']),
        new UnsupportedOperationError('listing', url),
        new NotFoundError(url, cause),
        new BucketNotFoundError(url, 'bucket', cause),
        new AccessDeniedError(url, 'HTTP 403', cause),
        new ObjectChangedError(url, '"v1"', '"v2"', cause),
        new SourceUnreachableError(url, 3, cause),
        new TimeoutError(url, 300, cause),
        new SourceError(url, `HTTP 500 from ${url}`, { cause }),
        new ShortReadError(url, 0, 10, 5),
        new AbortError(url, cause),
        new TFRecordCorruptionError(url, 0, 'data-crc', undefined, cause),
      ]
      // An error told no URL has only the patterns to go by, and they stop at a space or a quote.
      if (userinfo === USERINFOS[0]) errors.push(new CacheError('disk', `fill of ${url} failed`, cause))
      for (const err of errors) scan(`${err.name} of ${url}`, err)
    }
  }
})

test('the scans covered every code the scenarios are meant to produce', () => {
  for (const code of [
    'ERR_SLUICE_INVALID_URL', 'ERR_SLUICE_NOT_FOUND', 'ERR_SLUICE_ACCESS_DENIED', 'ERR_SLUICE_SOURCE', 'ERR_SLUICE_TIMEOUT',
    'ERR_SLUICE_UNREACHABLE', 'ERR_SLUICE_UNSUPPORTED', 'ERR_SLUICE_OBJECT_CHANGED', 'ERR_SLUICE_SHORT_READ',
    'ERR_SLUICE_TFRECORD_CORRUPT', 'ERR_SLUICE_ABORTED', 'ERR_SLUICE_UNSUPPORTED_SCHEME', 'ERR_SLUICE_BUCKET_NOT_FOUND', 'ERR_SLUICE_CACHE',
  ]) {
    assert.ok(seen.has(code), `no error with ${code} was scanned (seen: ${[...seen.keys()].join(', ')})`)
  }
})

test.run()
