/**
 * The arithmetic of the remote-store model, kept apart from sockets and timers so it can be
 * tested exactly: a first-byte latency per request, a bandwidth cap per connection and an
 * aggregate cap for the whole link. The proxy (remote-store-proxy.ts) asks it when each
 * slice of a response body may leave; a test asks the same questions with a fake clock and
 * checks the answers by counting bytes, never by measuring wall time.
 *
 * Both caps are token buckets kept as virtual clocks: a bucket's clock is the time at which
 * everything it has already admitted will have been sent. A slice of n bytes advances the
 * connection's clock by n / perConnectionRate and the link's by n / aggregateRate, and may
 * leave when both have passed. Each connection reserves one slice at a time (the proxy
 * awaits each), so connections interleave on the link instead of one queueing its whole
 * body ahead of the others. A clock that has fallen behind `now` is pulled up to
 * `now - slackMs`: idle time does not bank unlimited credit, yet a timer that fires a little
 * late is made up for, so the average rate holds despite millisecond timer granularity.
 */

/** The parameters of the model. Rates in bytes per second (decimal: 50 MB/s = 50e6). */
export interface RemoteStoreModel {
  /** Delay before the first byte of every response (headers included), in ms. */
  firstByteLatencyMs: number
  /** Cap on each connection's response bytes, bytes per second. */
  connectionBytesPerSecond: number
  /** Cap on all connections together, bytes per second (the link). */
  aggregateBytesPerSecond: number
}

/** The defaults the issue asks for; the aggregate cap is this machine's choice (see docs/benchmark.md). */
export const DEFAULT_MODEL: RemoteStoreModel = {
  firstByteLatencyMs: 20,
  connectionBytesPerSecond: 50e6,
  aggregateBytesPerSecond: 200e6,
}

/** How far behind `now` a bucket's clock may lag, in ms (the catch-up allowed after a late timer). */
export const SLACK_MS = 10

export function describeModel(m: RemoteStoreModel): string {
  return (
    `model of a remote object store: ${m.firstByteLatencyMs} ms first-byte latency per request, ` +
    `${(m.connectionBytesPerSecond / 1e6).toFixed(0)} MB/s per connection, ` +
    `${(m.aggregateBytesPerSecond / 1e6).toFixed(0)} MB/s aggregate link cap`
  )
}

/** One virtual-clock bucket. */
class Bucket {
  private clockMs = -Infinity
  constructor(private readonly bytesPerMs: number) {}
  /** Admits `bytes` at `nowMs`; returns when they will have been sent. */
  admit(bytes: number, nowMs: number): number {
    // A new bucket starts at now: no credit before its first byte.
    const from = this.clockMs === -Infinity ? nowMs : Math.max(this.clockMs, nowMs - SLACK_MS)
    this.clockMs = from + bytes / this.bytesPerMs
    return this.clockMs
  }
}

/** A connection's view of the link: reserve a slice, learn when it may be sent. */
export class ConnectionPacer {
  private readonly own: Bucket
  constructor(
    private readonly link: LinkModel,
    bytesPerSecond: number,
  ) {
    this.own = new Bucket(bytesPerSecond / 1000)
  }
  /** The time (ms, on the model's clock) at which `bytes` more may be released. */
  reserve(bytes: number): number {
    const now = this.link.now()
    const ownDone = this.own.admit(bytes, now)
    const linkDone = this.link.admitAggregate(bytes, now)
    this.link.bytes += bytes
    return Math.max(ownDone, linkDone)
  }
}

export class LinkModel {
  /** Body bytes reserved so far, across connections. */
  bytes = 0
  /** Requests whose first byte has been scheduled. */
  requests = 0
  private readonly aggregate: Bucket

  constructor(
    readonly model: RemoteStoreModel,
    readonly now: () => number = () => performance.now(),
  ) {
    for (const [k, v] of Object.entries(model)) {
      if (!Number.isFinite(v) || v < 0 || (k !== 'firstByteLatencyMs' && v === 0)) {
        throw new RangeError(`remote-store model: ${k} must be a positive number, got ${v}`)
      }
    }
    this.aggregate = new Bucket(model.aggregateBytesPerSecond / 1000)
  }

  /** When the first byte of a response to a request that arrived at `arrivedMs` may leave. */
  firstByteAt(arrivedMs: number): number {
    this.requests++
    return arrivedMs + this.model.firstByteLatencyMs
  }

  openConnection(): ConnectionPacer {
    return new ConnectionPacer(this, this.model.connectionBytesPerSecond)
  }

  /** @internal Used by ConnectionPacer: charge the shared link. */
  admitAggregate(bytes: number, nowMs: number): number {
    return this.aggregate.admit(bytes, nowMs)
  }
}
