/**
 * A model of a remote object store, as an HTTP proxy in front of an S3-compatible endpoint
 * (s3rver on loopback in the benchmark). Every response is held until the request's
 * first-byte latency has passed, then its body is released in 64 KiB slices paced by the
 * link model (per-connection and aggregate caps; see link-model.ts). Requests and headers
 * pass through unchanged (Host included), so the server still verifies SigV4 signatures.
 *
 * Upstream work overlaps the latency: the request is forwarded at once and only the answer
 * is held, so the modelled latency is a floor on first byte, not added to s3rver's own time
 * when that is shorter. Connection setup (TCP/TLS handshakes) is not modelled: clients keep
 * connections alive, and a real store's extra round trips on a new connection are left out.
 *
 * It counts what crossed it (requests by kind, response body bytes), so tests check the
 * model by counting rather than by timing. The benchmark runs it in its own process
 * (remote-store-process.ts) so its pacing timers do not share an event loop with the reader
 * being measured.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { LinkModel, type ConnectionPacer, type RemoteStoreModel } from './link-model.js'

/** Body slices: small enough to pace smoothly at 50 MB/s (1.3 ms each), large enough to be cheap. */
const SLICE_BYTES = 64 * 1024

export interface RemoteStoreCounts {
  requests: number
  /** GETs of an object (ranged or whole). */
  gets: number
  heads: number
  /** GETs of a bucket (listings). */
  lists: number
  other: number
  /** Response body bytes released to clients. */
  bodyBytes: number
  /** Connections accepted. */
  connections: number
  /** Sum over requests of arrival-to-last-byte time, ms: its growth over an interval, divided by the interval, is the mean number of requests in flight. */
  requestMs: number
}

export interface RemoteStoreProxy {
  endpoint: string
  model: RemoteStoreModel
  counts(): RemoteStoreCounts
  close(): Promise<void>
}

/** Resolves on 'drain' or 'close', whichever comes first, leaving no listener behind. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

export function emptyCounts(): RemoteStoreCounts {
  return { requests: 0, gets: 0, heads: 0, lists: 0, other: 0, bodyBytes: 0, connections: 0, requestMs: 0 }
}

function kindOf(req: IncomingMessage): 'gets' | 'heads' | 'lists' | 'other' {
  if (req.method === 'HEAD') return 'heads'
  if (req.method !== 'GET') return 'other'
  // Path-style: /bucket/key... is an object, /bucket or /bucket/ a listing.
  const path = (req.url ?? '/').split('?')[0]!
  return path.replace(/^\/+/, '').replace(/\/+$/, '').includes('/') ? 'gets' : 'lists'
}

export async function startRemoteStoreProxy(options: { target: string; model: RemoteStoreModel }): Promise<RemoteStoreProxy> {
  const target = new URL(options.target)
  const link = new LinkModel(options.model)
  const counts = emptyCounts()
  const pacers = new WeakMap<Socket, ConnectionPacer>()
  const sockets = new Set<Socket>()

  async function relayBody(up: IncomingMessage, res: ServerResponse, pacer: ConnectionPacer): Promise<void> {
    for await (const chunk of up as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
        const slice = chunk.subarray(at, at + SLICE_BYTES)
        const wait = pacer.reserve(slice.length) - performance.now()
        if (wait >= 1) await sleep(wait)
        counts.bodyBytes += slice.length
        if (!res.write(slice)) await drainedOrClosed(res)
        if (res.destroyed) return
      }
    }
    res.end()
  }

  const server = createServer((req, res) => {
    const arrived = performance.now()
    counts.requests++
    counts[kindOf(req)]++
    const socket = req.socket
    let pacer = pacers.get(socket)
    if (!pacer) pacers.set(socket, (pacer = link.openConnection()))
    const firstByteAt = link.firstByteAt(arrived)
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      up.pause()
      const wait = firstByteAt - performance.now()
      const start = () => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        if (req.method === 'HEAD') {
          up.resume()
          res.end()
          return
        }
        relayBody(up, res, pacer!).catch(() => res.destroy())
      }
      if (wait >= 1) setTimeout(start, wait)
      else start()
    })
    upstream.on('error', () => res.destroy())
    res.on('close', () => {
      counts.requestMs += performance.now() - arrived
      upstream.destroy()
    })
    req.pipe(upstream)
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', (s: Socket) => {
    counts.connections++
    sockets.add(s)
    s.setNoDelay(true)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('remote-store proxy did not get a TCP port')
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    model: options.model,
    counts: () => ({ ...counts }),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
