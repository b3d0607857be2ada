/**
 * A plain HTTP server on loopback serving one object by range (HEAD, GET with Range, ETag),
 * which records every Range header it is sent and can cut a response body short in the two
 * ways a network does: a body that ends cleanly before the range does (chunked encoding,
 * nothing says how long it should be), or a declared Content-Length followed by a closed
 * connection. The resume tests read the recorded ranges to see where a retry started.
 */
import { createServer, type ServerResponse } from 'node:http'

/** How the server answers the nth GET: the whole range, or `bytes` of it and then a cut. */
export type BodyPlan = { kind: 'whole' } | { kind: 'end-early'; bytes: number } | { kind: 'close-early'; bytes: number }

export interface RangeServer {
  /** The object's URL (`http://127.0.0.1:<port>/object.bin`). */
  url: string
  /** Range headers of the GETs so far, in order. */
  ranges: string[]
  /** Decides each GET's body; gets the 1-based GET number. Default: whole. */
  plan: (n: number) => BodyPlan
  close(): Promise<void>
}

export async function startRangeServer(object: Uint8Array, etag = '"v1"'): Promise<RangeServer> {
  const state: RangeServer = { url: '', ranges: [], plan: () => ({ kind: 'whole' }), close: async () => {} }
  const server = createServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': object.length, etag })
      return res.end()
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!m) {
      res.writeHead(400, { 'content-length': 0 })
      return res.end()
    }
    state.ranges.push(req.headers.range!)
    const start = Number(m[1])
    const end = Math.min(object.length, Number(m[2]) + 1)
    const body = object.subarray(start, end)
    const headers = { 'content-range': `bytes ${start}-${end - 1}/${object.length}`, etag }
    const plan = state.plan(state.ranges.length)
    if (plan.kind === 'whole') {
      res.writeHead(206, { ...headers, 'content-length': body.length })
      return res.end(body)
    }
    if (plan.kind === 'end-early') {
      res.writeHead(206, headers) // no length: chunked, so ending early is a clean end
      return res.end(body.subarray(0, plan.bytes))
    }
    res.writeHead(206, { ...headers, 'content-length': body.length })
    res.write(body.subarray(0, plan.bytes), () => closeSoon(res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('range server got no TCP port')
  state.url = `http://127.0.0.1:${address.port}/object.bin`
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return state
}

/** Ends the connection under a response whose body is not complete. */
function closeSoon(res: ServerResponse): void {
  res.socket?.end()
}
