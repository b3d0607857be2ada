/**
 * URLs in errors never carry credentials (README, Errors): userinfo is dropped and the query
 * parameters of presigned URLs that act as credentials (AWS, GCS, Azure SAS) are masked, in
 * the message, in `err.url` and down the cause chain. The table checks `redactUrl` itself;
 * the reader tests send presigned URLs to a real HTTP server answering 404, 403 and 500 and
 * look for the secrets anywhere in what the caller can print.
 */
import { createServer, type Server } from 'node:http'
import { inspect } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AccessDeniedError, BlockReader, NotFoundError, SourceError, redactUrl } from '../lib/index.js'

const test = suite('URL redaction')
let server: Server
let status = 404
let base = ''

test.before(async () => {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-length': 0 })
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `127.0.0.1:${(server.address() as { port: number }).port}`
})
test.after(() => new Promise<void>((resolve) => server.close(() => resolve())))

const SECRETS = ['AKIAEXAMPLESECRET', 'deadbeefsignature', 'SESSIONTOKENVALUE', 'hunter2pw', 'goog-sig-value', 'sas-sig-value']
const leaked = (text: string) => SECRETS.filter((s) => text.includes(s))

test('redactUrl: userinfo dropped, credential parameters masked, everything else kept', () => {
  const rows: [string, string][] = [
    ['s3://bucket/key?x=1', 's3://bucket/key?x=1'],
    ['file:///data/a@b', 'file:///data/a@b'],
    ['https://host/plain/path', 'https://host/plain/path'],
    ['https://alice:hunter2pw@host/k', 'https://host/k'],
    [
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLESECRET%2F2024&X-Amz-Signature=deadbeefsignature&X-Amz-Security-Token=SESSIONTOKENVALUE&partNumber=2',
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED&partNumber=2',
    ],
    ['https://storage.googleapis.com/b/k?X-Goog-Signature=goog-sig-value&X-Goog-Credential=x', 'https://storage.googleapis.com/b/k?X-Goog-Signature=REDACTED&X-Goog-Credential=REDACTED'],
    ['https://acct.blob.core.windows.net/c/k?sv=2020&sig=sas-sig-value', 'https://acct.blob.core.windows.net/c/k?sv=2020&sig=REDACTED'],
    ['http://h/k?token=SESSIONTOKENVALUE&access_token=SESSIONTOKENVALUE', 'http://h/k?token=REDACTED&access_token=REDACTED'],
  ]
  for (const [raw, want] of rows) assert.is(redactUrl(raw), want, raw)
})

test('errors built from a presigned URL carry it redacted in message, url and stack', () => {
  const url = 'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAEXAMPLESECRET&X-Amz-Signature=deadbeefsignature'
  for (const err of [new NotFoundError(url), new AccessDeniedError(url, 'HTTP 403'), new SourceError(url, `HTTP 500 for ${url}`, { status: 500 })]) {
    assert.equal(leaked(`${err.message} ${err.url} ${err.stack}`), [], err.name)
    assert.ok(err.message.includes('X-Amz-Signature=REDACTED'), err.message)
  }
})

test('a presigned URL read through the reader: 404, 403 and 500 errors carry no secret, causes included', async () => {
  const url = `http://${base}/k?X-Amz-Credential=AKIAEXAMPLESECRET%2F2024&X-Amz-Signature=deadbeefsignature&X-Amz-Security-Token=SESSIONTOKENVALUE`
  const reader = new BlockReader({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } })
  try {
    for (const [code, want] of [[404, 'ERR_SLUICE_NOT_FOUND'], [403, 'ERR_SLUICE_ACCESS_DENIED'], [500, 'ERR_SLUICE_SOURCE']] as const) {
      status = code
      const err = (await reader.stat(url).then(() => undefined, (e: unknown) => e)) as (Error & { code?: string; url?: string }) | undefined
      assert.ok(err, `HTTP ${code} should fail`)
      assert.is(err!.code, want)
      assert.equal(leaked(`${inspect(err, { depth: 8 })} ${err!.url}`), [], `HTTP ${code}`)
      assert.ok(err!.message.includes(`${base}/k?`), `the message still names the object: ${err!.message}`)
    }
  } finally {
    await reader.close()
  }
})

test('a URL with a password read through the reader: the error and its causes carry no password', async () => {
  status = 404
  const reader = new BlockReader({ retry: { maxAttempts: 1 } })
  try {
    const err = (await reader.stat(`http://alice:hunter2pw@${base}/k`).then(() => undefined, (e: unknown) => e)) as Error | undefined
    assert.ok(err, 'the stat should fail')
    assert.equal(leaked(inspect(err, { depth: 8 })), [])
  } finally {
    await reader.close()
  }
})

test('preload reports a failed presigned target without its signature (the CLI prints these)', async () => {
  status = 403
  const url = `http://${base}/k?X-Amz-Credential=AKIAEXAMPLESECRET%2F2024&X-Amz-Signature=deadbeefsignature`
  const reader = new BlockReader({ retry: { maxAttempts: 1 } })
  try {
    const result = await reader.preload([url])
    assert.is(result.failed.length, 1, 'the target failed')
    assert.is(result.failed[0]!.code, 'ERR_SLUICE_ACCESS_DENIED')
    assert.equal(leaked(JSON.stringify(result)), [])
    assert.ok(result.failed[0]!.url.includes('X-Amz-Signature=REDACTED'), result.failed[0]!.url)
  } finally {
    await reader.close()
  }
})

test.run()
