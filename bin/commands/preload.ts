/**
 * `sluice preload`: fill a cache directory (or, with --cluster and no cache directory, the
 * cluster tier every node shares) before a job starts, and say plainly whether it worked.
 * The exit status is the contract: 0 only when every byte asked for is resident (verified,
 * in the disk tier) in the tier being filled, 5 otherwise, with a summary of what is missing
 * and why. With --dry-run nothing is fetched; it reports how much would be and whether it fits.
 */
import { formatBytes, type PreloadProgress, type PreloadResult } from '../../lib/index.js'
import type { Command } from '../support/command.js'
import { ExitCode } from '../support/exit-codes.js'
import { startMetricsServer } from '../support/metrics.js'
import { createProgress } from '../support/progress.js'
import { CACHE_OPTIONS, STORE_OPTIONS, createReader, whenReady } from '../support/reader-options.js'
import { countOption, durationOption, portOption } from '../support/values.js'

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

export function summarize(result: PreloadResult, elapsedMs: number): string[] {
  const lines: string[] = []
  const n = result.objects.length
  const fits = result.requestedBytes <= result.capacityBytes
  if (result.dryRun) {
    lines.push(
      `dry run: ${n} object${n === 1 ? '' : 's'}, ${formatBytes(result.requestedBytes)} requested; ` +
        `${formatBytes(result.residentBytes)} already resident, ${formatBytes(result.fetchedBytes)} would be fetched`,
      `capacity of the tier being filled: ${formatBytes(result.capacityBytes)}: ${fits ? 'fits' : `does NOT fit (short by ${formatBytes(result.requestedBytes - result.capacityBytes)})`}`,
    )
  } else {
    const rate = elapsedMs > 0 ? formatBytes(Math.round((result.fetchedBytes * 1000) / elapsedMs)) + '/s' : '-'
    lines.push(
      `${result.complete ? 'preloaded' : 'INCOMPLETE:'} ${formatBytes(result.residentBytes)} of ${formatBytes(result.requestedBytes)} resident ` +
        `(${n} object${n === 1 ? '' : 's'}); fetched ${formatBytes(result.fetchedBytes)} in ${seconds(elapsedMs)} (${rate})`,
    )
  }
  for (const f of result.failed) lines.push(`  failed: ${f.url}: ${f.message} [${f.code}]`)
  if (!result.dryRun) {
    const explained = new Set(result.failed.map((f) => f.url))
    const partial = result.objects.filter((o) => o.missingBytes > 0 && !explained.has(o.url))
    for (const o of partial.slice(0, 20)) lines.push(`  not resident: ${o.url}: ${formatBytes(o.missingBytes)} of ${formatBytes(o.size)} missing`)
    if (partial.length > 20) lines.push(`  ... and ${partial.length - 20} more objects not fully resident`)
    if (partial.length > 0 || (result.failed.length > 0 && !fits)) {
      lines.push(
        fits
          ? '  why: blocks were not kept (evicted by other data, refused by admission, or failed to write); see sluice stats'
          : `  why: ${formatBytes(result.requestedBytes)} requested does not fit the tier being filled (${formatBytes(result.capacityBytes)}); raise --disk or preload less`,
      )
    }
  }
  return lines
}

export const preloadCommand: Command = {
  name: 'preload',
  summary: 'Fetch objects or prefixes into a cache directory before a job starts.',
  usage: ['sluice preload <url-or-prefix>... --cache-dir <dir> [--dry-run]', 'sluice preload <url-or-prefix>... --cluster <urls>'],
  description: `
Fetches every object named (a URL ending in '/' or naming a directory of keys is a prefix)
into the disk tier of <dir>, then checks every block back. With --cluster and no --cache-dir
it fills the cluster tier instead, so every node of a training cluster starts warm. Shows a progress bar on a
terminal (plain log lines otherwise). Exits 0 only if everything asked for is resident;
otherwise 5, with what is missing and why. --dry-run fetches nothing and reports how much
would be fetched and whether it fits (exit 5 if it would not).`,
  groups: [
    {
      title: 'Options',
      options: {
        'dry-run': { type: 'boolean', short: 'n', help: 'Report what would be fetched and whether it fits; fetch nothing.' },
        concurrency: { type: 'string', value: 'n', help: 'Objects fetched at once (default 4).' },
        json: { type: 'boolean', help: 'Print the result as JSON on stdout (progress stays on stderr).' },
        'progress-interval': { type: 'string', value: 'duration', help: 'Between progress lines when not on a terminal (default 5s).' },
        'metrics-port': { type: 'string', value: 'port', help: 'Serve Prometheus metrics on this port while preloading (0: any free port).' },
        'metrics-host': { type: 'string', value: 'address', help: 'Address for --metrics-port (default 127.0.0.1).' },
      },
    },
    { title: 'Cache', options: CACHE_OPTIONS },
    { title: 'Store', options: STORE_OPTIONS },
  ],
  examples: [
    'sluice preload s3://bucket/train/ --cache-dir /var/cache/sluice --disk 100GiB',
    'sluice preload s3://bucket/train/ --cache-dir /var/cache/sluice --dry-run',
    'sluice preload s3://bucket/train/ --cluster redis://10.0.0.5:6379,redis://10.0.0.6:6379',
    'sluice preload s3://bucket/train/shard-0000{0,1,2}.tfrecord --cache-dir /var/cache/sluice && python train.py',
  ],
  positionals: [1, Number.MAX_SAFE_INTEGER],
  async run(ctx) {
    const concurrency = countOption(ctx.values.concurrency as string | undefined, 'concurrency', 1)
    const intervalMs = durationOption(ctx.values['progress-interval'] as string | undefined, 'progress-interval')
    const metricsPort = portOption(ctx.values['metrics-port'] as string | undefined, 'metrics-port')
    const dryRun = ctx.values['dry-run'] === true
    const reader = createReader(ctx, { requireCacheDir: true, orCluster: true })
    await whenReady(ctx, reader)
    let latest: PreloadProgress = { url: '', objectsDone: 0, objectsTotal: 0, bytesDone: 0, bytesTotal: 0 }
    const metrics =
      metricsPort === undefined
        ? undefined
        : await startMetricsServer(metricsPort, (ctx.values['metrics-host'] as string | undefined) ?? '127.0.0.1', {
            reader: () => reader.stats(),
            preload: () => latest,
          })
    if (metrics) ctx.log(`metrics on ${metrics.url}`)
    const progress = dryRun ? undefined : createProgress(ctx.stderr, intervalMs === undefined ? {} : { intervalMs })
    const abort = new AbortController()
    const onSignal = () => abort.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    const started = Date.now()
    try {
      const result = await reader.preload(ctx.positionals, {
        dryRun,
        signal: abort.signal,
        ...(concurrency === undefined ? {} : { concurrency }),
        onProgress: (p) => {
          latest = p
          progress?.update(p)
        },
      })
      progress?.stop()
      if (ctx.values.json) ctx.stdout.write(JSON.stringify(result, null, 2) + '\n')
      else ctx.stdout.write(summarize(result, Date.now() - started).join('\n') + '\n')
      if (abort.signal.aborted) return ExitCode.INTERRUPTED
      if (dryRun) return result.requestedBytes <= result.capacityBytes && result.failed.length === 0 ? ExitCode.OK : ExitCode.INCOMPLETE
      return result.complete ? ExitCode.OK : ExitCode.INCOMPLETE
    } finally {
      progress?.stop()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await metrics?.close()
      await reader.close()
    }
  },
}
