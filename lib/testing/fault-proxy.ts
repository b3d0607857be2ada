/**
 * A fault-injecting HTTP proxy for any S3-compatible endpoint: it forwards requests to the
 * real server and, on chosen requests, answers 500 / 503 SlowDown / 429, stalls before the
 * first byte or mid-body, resets the connection mid-body, sends fewer bytes than its
 * Content-Length, or changes the ETag. Faults fire at a rate or on the Nth request.
 *
 * Signed requests pass through untouched (the Host header is kept), so the server still
 * verifies signatures. Exported from `sluice/testing`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { seededRandom } from './seeded-random.js'

export type FaultKind = 'status500' | 'slowdown503' | 'throttle429' | 'stall' | 'stallBody' | 'reset' | 'short' | 'etag'

export interface Fault {
  kind: FaultKind
  /** Probability per matching request, 0..1. */
  rate?: number
  /** 1-based numbers of matching requests that get the fault. */
  nth?: number[]
  /** HTTP methods the fault applies to. Default ['GET']. */
  methods?: string[]
}

export interface FaultProxyOptions {
  /** The real endpoint, e.g. `http://127.0.0.1:4568`. */
  target: string
  faults?: Fault[]
  /** Seed for rate-based faults, so a run can be repeated. Default 1. */
  seed?: number
}

export interface FaultProxy {
  endpoint: string
  /** Faults injected so far, by kind. */
  injected: Record<string, number>
  requests: number
  setFaults(faults: Fault[]): void
  close(): Promise<void>
}

const ERROR_STATUS: Partial<Record<FaultKind, [number, string]>> = {
  status500: [500, 'InternalError'],
  slowdown503: [503, 'SlowDown'],
  throttle429: [429, 'TooManyRequests'],
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target)
  let faults = options.faults ?? []
  const random = seededRandom(options.seed ?? 1)
  const matched = new Map<Fault, number>()
  const sockets = new Set<Socket>()
  const state: FaultProxy = {
    endpoint: '',
    injected: {},
    requests: 0,
    setFaults(next) {
      faults = next
      matched.clear()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }

  const choose = (method: string): FaultKind | undefined => {
    for (const f of faults) {
      if (!(f.methods ?? ['GET']).includes(method)) continue
      const n = (matched.get(f) ?? 0) + 1
      matched.set(f, n)
      if (f.nth?.includes(n) || (f.rate !== undefined && random() < f.rate)) return f.kind
    }
    return undefined
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests++
    const fault = choose(req.method ?? 'GET')
    if (fault) state.injected[fault] = (state.injected[fault] ?? 0) + 1
    const status = fault ? ERROR_STATUS[fault] : undefined
    if (status) {
      req.resume()
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${status[1]}</Code><Message>injected by sluice fault proxy</Message></Error>`
      res.writeHead(status[0], { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    if (fault === 'stall') {
      req.resume()
      return // never answer; the client's timeout must end it
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const headers = { ...up.headers }
        if (fault === 'etag' && headers.etag) headers.etag = '"0000000000000000000000000000beef"'
        if (!fault || fault === 'etag') {
          res.writeHead(up.statusCode ?? 502, headers)
          up.pipe(res)
          return
        }
        const chunks: Buffer[] = []
        up.on('data', (c: Buffer) => chunks.push(c))
        up.on('end', () => {
          const body = Buffer.concat(chunks)
          res.writeHead(up.statusCode ?? 502, headers)
          res.write(body.subarray(0, Math.floor(body.length / 2)))
          if (fault === 'reset') setTimeout(() => res.socket?.resetAndDestroy?.() ?? res.socket?.destroy(), 5)
          else if (fault === 'short') setTimeout(() => res.socket?.end(), 5)
          // stallBody: leave the response open; the client's timeout must end it
        })
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('fault proxy did not get a TCP port')
  state.endpoint = `http://127.0.0.1:${address.port}`
  return state
}
