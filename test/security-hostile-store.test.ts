/**
 * A hostile object store (docs/security.md): a raw TCP server on loopback that answers HEAD
 * honestly and then misbehaves on purpose, spoken to over plain HTTP and as an S3 endpoint.
 * A wrong ETag, a wrong total size, a range from another offset, a body cut short, a HEAD with
 * no usable length, a body that never ends, a body that trickles and headers that never
 * finish must each give a typed error within the configured request timeout, never wrong
 * bytes and never a hang. Every case is bounded by a deadline that fails the test.
 *
 * What no client can detect, other bytes of the right length under the same ETag, is not
 * tested: docs/security.md says so.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server, type Socket } from 'node:net'
import { BlockReader } from '../lib/index.js'
import { patternBytes } from './support/data.js'

const SIZE = 40_000
const BODY = patternBytes(SIZE, 'hostile-store')
const OTHER = patternBytes(SIZE, 'hostile-store-other')
const TIMEOUT_MS = 300
/** A hang guard, far above every timeout the reader is given; not a timing assertion. */
const DEADLINE_MS = 20_000

interface Request {
  method: string
  path: string
  headers: Record<string, string>
}

/** What the server answers a GET of each object with; HEAD is honest except for `nolength`. */
type Behaviour = (socket: Socket, range: [number, number], object: string) => void

const head = (status: string, headers: Record<string, string | number>) =>
  `HTTP/1.1 ${status}\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'

const partial = (s: number, e: number, extra: Record<string, string | number> = {}) =>
  head('206 Partial Content', { etag: '"v1"', 'content-range': `bytes ${s}-${e}/${SIZE}`, 'content-length': e - s + 1, connection: 'close', ...extra })

/** Writes `chunk` every `everyMs` until the peer goes away. */
function trickle(socket: Socket, chunk: string | Buffer, everyMs: number): void {
  const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(chunk)), everyMs)
  socket.on('close', () => clearInterval(timer))
}

/** Objects whose endless body's connection the reader closed. */
const hungUp = new Set<string>()

const BEHAVIOURS: Record<string, Behaviour> = {
  good: (socket, [s, e]) => socket.end(Buffer.concat([Buffer.from(partial(s, e)), BODY.subarray(s, e + 1)])),
  // The right length from another version: the ETag says so.
  etag: (socket, [s, e]) => socket.end(Buffer.concat([Buffer.from(partial(s, e, { etag: '"v2"' })), OTHER.subarray(s, e + 1)])),
  // The object is one byte longer than the HEAD said.
  size: (socket, [s, e]) =>
    socket.end(Buffer.concat([Buffer.from(partial(s, e, { 'content-range': `bytes ${s}-${e}/${SIZE + 1}` })), BODY.subarray(s, e + 1)])),
  // Bytes from one further on, labelled as such: the wrong offset.
  offset: (socket, [s, e]) =>
    socket.end(Buffer.concat([Buffer.from(partial(s, e, { 'content-range': `bytes ${s + 1}-${e + 1}/${SIZE}` })), BODY.subarray(s + 1, e + 2)])),
  // Half the promised body, then the connection closes.
  short: (socket, [s, e]) => socket.end(Buffer.concat([Buffer.from(partial(s, e)), BODY.subarray(s, s + (e - s + 1) / 2)])),
  // The asked range, then bytes forever (chunked): the reader takes its range and hangs up.
  endless: (socket, [s, e], object) => {
    socket.on('close', () => hungUp.add(object))
    socket.on('error', () => {})
    const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')])
    socket.write(head('206 Partial Content', { etag: '"v1"', 'content-range': `bytes ${s}-${e}/${SIZE}`, 'transfer-encoding': 'chunked' }))
    socket.write(chunk(BODY.subarray(s, e + 1)))
    const more = () => {
      while (!socket.destroyed && socket.write(chunk(OTHER))) {
        /* until the socket pushes back */
      }
      if (!socket.destroyed) socket.once('drain', more)
    }
    more()
  },
  // Headers, then one byte of the body every 50 ms: never done within the timeout.
  trickle: (socket, [s, e]) => {
    socket.write(partial(s, e))
    trickle(socket, BODY.subarray(s, s + 1), 50)
  },
  // A status line, then header bytes that never reach the blank line.
  headers: (socket) => {
    socket.write('HTTP/1.1 206 Partial Content\r\netag: "v1"\r\nx-slow: ')
    trickle(socket, 'a', 50)
  },
}

function parse(text: string): Request {
  const [requestLine, ...lines] = text.split('\r\n')
  const [method, path] = requestLine!.split(' ')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const at = line.indexOf(':')
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim()
  }
  return { method: method!, path: path!, headers }
}

function answer(socket: Socket, req: Request): void {
  const url = new URL(req.path, 'http://store')
  // `<behaviour>.<anything>`: each test its own name, so what one sees is not another's.
  const object = url.pathname.split('/').pop()!
  const name = object.split('.')[0]!
  if (url.searchParams.has('list-type')) {
    // An S3 listing whose XML never ends.
    socket.write(head('200 OK', { 'content-type': 'application/xml', 'transfer-encoding': 'chunked' }))
    const xml = '<?xml version="1.0"?><ListBucketResult>'
    socket.write(`${xml.length.toString(16)}\r\n${xml}\r\n`)
    trickle(socket, '1\r\n \r\n', 50)
    return
  }
  if (req.method === 'HEAD') {
    if (name === 'headers-head') return BEHAVIOURS.headers!(socket, [0, 0], object)
    const length: Record<string, number> = name === 'nolength' ? {} : { 'content-length': SIZE }
    socket.end(head('200 OK', { etag: '"v1"', 'last-modified': new Date(0).toUTCString(), 'accept-ranges': 'bytes', ...length, connection: 'close' }))
    return
  }
  const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')
  const behaviour = BEHAVIOURS[name]
  if (!m || !behaviour) return void socket.end(head('404 Not Found', { 'content-length': 0, connection: 'close' }))
  behaviour(socket, [Number(m[1]), Number(m[2])], object)
}

let server: Server
let port = 0
const sockets = new Set<Socket>()
test.before(async () => {
  server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', (d) => {
      if (buffered.includes('\r\n\r\n')) return // one request per connection; ignore the rest
      buffered += d.toString('latin1')
      if (buffered.includes('\r\n\r\n')) answer(socket, parse(buffered.slice(0, buffered.indexOf('\r\n\r\n'))))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as { port: number }).port
})
test.after(async () => {
  for (const socket of sockets) socket.destroy() // trickles a failed case left behind
  await new Promise((r) => server.close(r))
})

const readers: Record<'http' | 's3', (timeoutMs?: number) => BlockReader> = {
  http: (requestTimeoutMs = TIMEOUT_MS) => new BlockReader({ memory: { maxBytes: 1 << 20 }, retry: { maxAttempts: 2, baseDelayMs: 1, requestTimeoutMs } }),
  s3: (requestTimeoutMs = TIMEOUT_MS) =>
    new BlockReader({
      memory: { maxBytes: 1 << 20 },
      retry: { maxAttempts: 2, baseDelayMs: 1, requestTimeoutMs },
      s3: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIAHOSTILE', secretAccessKey: 'hostile-store-secret' } },
    }),
}
const urlOf = (kind: 'http' | 's3', name: string) => (kind === 'http' ? `http://127.0.0.1:${port}/b/${name}` : `s3://b/${name}`)

/** Settles `p` or fails the test at the deadline, so a hang is a failure and not a stuck run. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${DEADLINE_MS} ms (a hang)`)), DEADLINE_MS)
  })
  try {
    return await Promise.race([p, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** The rejection of `p` (failing if it resolves, or if it resolves to bytes). */
async function rejection(p: Promise<unknown>, what: string): Promise<{ code?: string; message: string }> {
  const outcome = await within(p.then((v) => ({ v }), (err: unknown) => ({ err })), what)
  if ('v' in outcome) assert.unreachable(`${what}: resolved${outcome.v instanceof Uint8Array ? ` with ${outcome.v.length} bytes` : ''}`)
  return (outcome as { err: { code?: string; message: string } }).err
}

for (const kind of ['http', 's3'] as const) {
  test(`${kind}: an honest store is read exactly (the baseline the other cases depart from)`, async () => {
    const reader = readers[kind]()
    try {
      const h = await within(reader.open(urlOf(kind, 'good')), 'open')
      assert.ok(Buffer.from(await within(h.read(1000, 30_000), 'read')).equals(BODY.subarray(1000, 31_000)))
    } finally {
      await within(reader.close(), 'closing the reader')
    }
  })

  for (const [name, what, code, pattern] of [
    ['etag', 'another ETag', 'ERR_SLUICE_OBJECT_CHANGED', /"v1"/],
    ['size', 'another total size', 'ERR_SLUICE_OBJECT_CHANGED', /size 40001/],
    ['offset', 'a range from another offset', 'ERR_SLUICE_SOURCE', /asked for bytes (\d+)-\d+, the store sent (?!\1-)\d+-\d+/],
    // undici holds the body to its Content-Length and fails the stream; what arrived is kept,
    // the retries ask for the rest and, when every attempt is cut, the read is a short read.
    ['short', 'a body shorter than its Content-Length', 'ERR_SLUICE_SHORT_READ', /short read from .* expected \d+ bytes, got \d+/],
    ['trickle', 'a body that trickles', 'ERR_SLUICE_TIMEOUT', /timed out after 300 ms/],
    ['headers', 'headers that never finish', 'ERR_SLUICE_TIMEOUT', /timed out after 300 ms/],
  ] as const) {
    test(`${kind}: a GET answered with ${what} is ${code}, never bytes`, async () => {
      const reader = readers[kind]()
      try {
        const h = await within(reader.open(urlOf(kind, name)), 'open')
        const err = await rejection(h.read(1000, 30_000), `${kind} ${name}`)
        assert.is(err.code, code, err.message)
        assert.match(err.message, pattern)
      } finally {
        await within(reader.close(), 'closing the reader')
      }
    })
  }

  test(`${kind}: a body that never ends is cut after the asked range: the range, and the connection closed`, async () => {
    // A timeout past the deadline: only taking the range and hanging up can end this request.
    const reader = readers[kind](2 * DEADLINE_MS)
    const object = `endless.${kind}`
    try {
      const h = await within(reader.open(urlOf(kind, object)), 'open')
      assert.ok(Buffer.from(await within(h.read(1000, 30_000), 'read')).equals(BODY.subarray(1000, 31_000)))
      await within(
        (async () => {
          while (!hungUp.has(object)) await new Promise((r) => setTimeout(r, 5))
        })(),
        'the reader hanging up',
      )
    } finally {
      await within(reader.close(), 'closing the reader')
    }
  })

  test(`${kind}: a HEAD without a length is refused, not read as an empty object`, async () => {
    const reader = readers[kind]()
    try {
      const err = await rejection(reader.open(urlOf(kind, 'nolength')), `${kind} nolength`)
      assert.is(err.code, 'ERR_SLUICE_SOURCE', err.message)
      assert.match(err.message, /Content-Length/)
    } finally {
      await within(reader.close(), 'closing the reader')
    }
  })

  test(`${kind}: a HEAD whose headers never finish is ERR_SLUICE_TIMEOUT`, async () => {
    const reader = readers[kind]()
    try {
      const err = await rejection(reader.stat(urlOf(kind, 'headers-head')), `${kind} headers-head`)
      assert.is(err.code, 'ERR_SLUICE_TIMEOUT', err.message)
    } finally {
      await within(reader.close(), 'closing the reader')
    }
  })
}

test('s3: a listing whose body never ends is ERR_SLUICE_TIMEOUT', async () => {
  const reader = readers.s3()
  try {
    const err = await rejection(reader.list('s3://b/'), 's3 endless listing')
    assert.is(err.code, 'ERR_SLUICE_TIMEOUT', err.message)
  } finally {
    await within(reader.close(), 'closing the reader')
  }
})

test.run()
