/**
 * `--metrics-port`: a Prometheus endpoint (text format, via prom-client) for a running mount
 * or preload. Values are read from `reader.stats()` (and the mount's counters) at scrape time,
 * so nothing is sampled in between and nothing runs on the read path. Counters follow the
 * Prometheus naming rules (`_total`, base units in bytes), labelled by tier or operation.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { ClusterTierCounts, ReaderStats } from '../../lib/index.js'
import type { MountStats } from '../../fuse/index.js'

export interface MetricsSources {
  reader: () => ReaderStats
  mount?: () => MountStats
  preload?: () => { bytesDone: number; bytesTotal: number; objectsDone: number; objectsTotal: number }
}

export interface MetricsServer {
  url: string
  close(): Promise<void>
}

type Collect<T> = (this: T) => void

function counter(registry: Registry, name: string, help: string, labelNames: string[], collect: Collect<Counter<string>>): void {
  new Counter({ name, help, labelNames, registers: [registry], collect })
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[], collect: Collect<Gauge<string>>): void {
  new Gauge({ name, help, labelNames, registers: [registry], collect })
}

/** Builds the registry; exported for tests that want the text without a socket. */
export function buildRegistry(sources: MetricsSources): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' })
  const tiers = () => sources.reader().tiers
  const perTier = (field: 'hits' | 'misses' | 'hitBytes' | 'evictions' | 'errors' | 'droppedFills') =>
    function (this: Counter<string>) {
      this.reset()
      for (const t of tiers()) this.inc({ tier: t.name }, t[field])
    }
  const perTierGauge = (value: (t: ReaderStats['tiers'][number]) => number) =>
    function (this: Gauge<string>) {
      this.reset()
      for (const t of tiers()) this.set({ tier: t.name }, value(t))
    }
  counter(registry, 'sluice_cache_hits_total', 'Block lookups answered by the tier.', ['tier'], perTier('hits'))
  counter(registry, 'sluice_cache_misses_total', 'Block lookups the tier could not answer.', ['tier'], perTier('misses'))
  counter(registry, 'sluice_cache_hit_bytes_total', 'Bytes served by the tier.', ['tier'], perTier('hitBytes'))
  counter(registry, 'sluice_cache_evictions_total', 'Blocks evicted from the tier.', ['tier'], perTier('evictions'))
  counter(registry, 'sluice_cache_errors_total', 'Tier failures (the read went to the source).', ['tier'], perTier('errors'))
  counter(registry, 'sluice_cache_dropped_fills_total', 'Cache fills refused by admission or the write-behind bound.', ['tier'], perTier('droppedFills'))
  gauge(registry, 'sluice_cache_used_bytes', 'Bytes used by the tier.', ['tier'], perTierGauge((t) => t.usedBytes))
  gauge(registry, 'sluice_cache_max_bytes', 'Bound of the tier in bytes.', ['tier'], perTierGauge((t) => t.maxBytes))
  gauge(registry, 'sluice_cache_blocks', 'Blocks held by the tier.', ['tier'], perTierGauge((t) => t.entries))
  gauge(registry, 'sluice_cache_healthy', '1 while the tier is in use, 0 while it is bypassed after errors.', ['tier'], perTierGauge((t) => (t.healthy ? 1 : 0)))

  // The cluster tier's own counts: values refused by their checks, how fill leases went, how bulks were read.
  const cluster = () => tiers().find((t) => t.name === 'cluster')?.cluster
  const clusterCounter = (name: string, help: string, label: string, values: (c: ClusterTierCounts) => Record<string, number>) =>
    counter(registry, name, help, [label], function () {
      this.reset()
      const c = cluster()
      if (c === undefined) return
      for (const [value, count] of Object.entries(values(c))) this.inc({ [label]: value }, count)
    })
  clusterCounter('sluice_cluster_rejected_values_total', 'Cluster values dropped by their checks (crc: header, length or CRC32C; hmac: missing or wrong HMAC).', 'check', (c) => ({ crc: c.crcFailures, hmac: c.authFailures }))
  clusterCounter(
    'sluice_cluster_leases_total',
    'Fill leases: won (this node fetched), unavailable (a full cluster refused one; this node fetched), waited (another node did), and how waits ended (filled, expired, timeout).',
    'outcome',
    (c) => ({ won: c.leasesWon, unavailable: c.leasesUnavailable, waited: c.leasesWaited, filled: c.leasesFilled, expired: c.leasesExpired, timeout: c.leaseTimeouts }),
  )
  clusterCounter(
    'sluice_cluster_bulk_reads_total',
    "Values' bulks read from the cluster, by path: direct (from the socket into the block) or client (ioredis, after a redirection, an error, a failed connection, or over TLS).",
    'path',
    (c) => ({ direct: c.directReads, client: c.clientReads }),
  )

  const source = () => sources.reader().source as ReaderStats['source'] & Partial<Record<'gets' | 'stats' | 'lists', number>>
  counter(registry, 'sluice_source_requests_total', 'Requests sent to the object store, retries included, by kind.', ['kind'], function () {
    this.reset()
    const s = source()
    if (s.gets === undefined) this.inc({ kind: 'all' }, s.requests)
    else for (const kind of ['gets', 'stats', 'lists'] as const) this.inc({ kind: kind.slice(0, -1) }, s[kind] ?? 0)
  })
  counter(registry, 'sluice_source_bytes_total', 'Bytes received from the object store.', [], function () {
    this.reset()
    this.inc(source().bytes)
  })
  counter(registry, 'sluice_source_retries_total', 'Requests retried after a transient failure.', [], function () {
    this.reset()
    this.inc(source().retries)
  })
  counter(registry, 'sluice_source_errors_total', 'Requests that failed for good.', [], function () {
    this.reset()
    this.inc(source().errors)
  })
  gauge(registry, 'sluice_prefetch_inflight_bytes', 'Speculative bytes being fetched now.', [], function () {
    this.set(sources.reader().prefetch.inflightBytes)
  })
  gauge(registry, 'sluice_prefetch_max_inflight_bytes', 'Bound on speculative bytes in flight.', [], function () {
    this.set(sources.reader().prefetch.maxInflightBytes)
  })
  counter(registry, 'sluice_prefetch_blocks_total', 'Prefetched blocks by outcome (issued, used, wasted).', ['outcome'], function () {
    this.reset()
    const p = sources.reader().prefetch
    this.inc({ outcome: 'issued' }, p.issuedBlocks)
    this.inc({ outcome: 'used' }, p.usedBlocks)
    this.inc({ outcome: 'wasted' }, p.wastedBlocks)
  })
  gauge(registry, 'sluice_open_handles', 'Objects open in the reader.', [], function () {
    this.set(sources.reader().openHandles)
  })

  const mount = sources.mount
  if (mount) {
    counter(registry, 'sluice_fuse_operations_total', 'FUSE operations answered, by operation.', ['op'], function () {
      this.reset()
      for (const [op, n] of Object.entries(mount().operations)) this.inc({ op }, n)
    })
    counter(registry, 'sluice_fuse_errors_total', 'FUSE operations answered with an error, by errno.', ['errno'], function () {
      this.reset()
      for (const [errno, n] of Object.entries(mount().errors)) this.inc({ errno }, n)
    })
    counter(registry, 'sluice_fuse_read_bytes_total', 'Bytes returned by FUSE reads.', [], function () {
      this.reset()
      this.inc(mount().bytesRead)
    })
    gauge(registry, 'sluice_fuse_open_files', 'Files open through the mount.', [], function () {
      this.set(mount().openFiles)
    })
    gauge(registry, 'sluice_fuse_objects', 'Objects visible in the mount (last listing).', [], function () {
      this.set(mount().objectCount)
    })
  }
  const preload = sources.preload
  if (preload) {
    gauge(registry, 'sluice_preload_bytes', 'Preload progress in bytes (state: done, total).', ['state'], function () {
      const p = preload()
      this.set({ state: 'done' }, p.bytesDone)
      this.set({ state: 'total' }, p.bytesTotal)
    })
    gauge(registry, 'sluice_preload_objects', 'Preload progress in objects (state: done, total).', ['state'], function () {
      const p = preload()
      this.set({ state: 'done' }, p.objectsDone)
      this.set({ state: 'total' }, p.objectsTotal)
    })
  }
  return registry
}

/** Serves `/metrics` on `host:port` (port 0 picks a free one; the URL says which). */
export async function startMetricsServer(port: number, host: string, sources: MetricsSources): Promise<MetricsServer> {
  const registry = buildRegistry(sources)
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' })
      res.end('sluice metrics: GET /metrics\n')
      return
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(text)
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`collecting metrics failed: ${(err as Error).message}\n`)
      },
    )
  })
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(port, host, () => done())
  })
  server.unref()
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  }
}
