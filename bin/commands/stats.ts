/**
 * `sluice stats`: what a cache directory (or each of several) holds (blocks, bytes used
 * against the bound, and the objects and counters the core reports), as a table or `--json`.
 */
import { formatBytes, type DiskDirStats, type RecordedCounts, type TierStats } from '../../lib/index.js'
import type { Command } from '../support/command.js'
import { CACHE_OPTIONS, cacheDirsOf, createReader } from '../support/reader-options.js'

function percent(used: number, max: number): string {
  return max > 0 ? `${((100 * used) / max).toFixed(1)}%` : '-'
}

export function tierLines(t: TierStats & { objects?: number }): string[] {
  const objects = typeof t.objects === 'number' ? `, ${t.objects} objects` : ''
  return [
    `${t.name} tier: ${formatBytes(t.usedBytes)} used of ${formatBytes(t.maxBytes)} (${percent(t.usedBytes, t.maxBytes)}), ${t.entries} blocks${objects}`,
    `  hits ${t.hits} (${formatBytes(t.hitBytes)}), misses ${t.misses}, evictions ${t.evictions}, dropped fills ${t.droppedFills}, errors ${t.errors}` +
      (t.healthy ? '' : ' — BYPASSED') +
      (t.lastError ? `; last error: ${t.lastError}` : ''),
    ...(t.name !== 'disk' ? [] : t.recorded ? [recordedLine(t.recorded)] : ['  recorded by every process: nothing yet']),
    ...(t.dirs ?? []).map(dirLine),
  ]
}

/** One directory of a disk tier over several. */
function dirLine(d: DiskDirStats): string {
  const objects = typeof d.objects === 'number' ? `, ${d.objects} objects` : ''
  return (
    `  directory ${d.path}: ${formatBytes(d.usedBytes)} used of ${formatBytes(d.maxBytes)} (${percent(d.usedBytes, d.maxBytes)}), ${d.entries} blocks${objects}, ` +
    `hits ${d.hits}, misses ${d.misses}, errors ${d.errors}` +
    (d.healthy ? '' : ' — BYPASSED') +
    (d.lastError ? `; last error: ${d.lastError}` : '')
  )
}

/** The directory's history, every process that used it included. */
function recordedLine(r: RecordedCounts): string {
  const lookups = r.hits + r.misses
  const ratio = lookups > 0 ? `, hit ratio ${percent(r.hits, lookups)}` : ''
  return (
    `  recorded since ${new Date(r.sinceMs).toISOString()} by every process: hits ${r.hits} (${formatBytes(r.hitBytes)}), ` +
    `misses ${r.misses}${ratio}, evictions ${r.evictions}, dropped fills ${r.droppedFills}`
  )
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'Show what a cache directory holds: blocks, bytes used versus limit, hits and misses.',
  usage: ['sluice stats --cache-dir <dir> [--cache-dir <dir>...] [--json]'],
  description: `
Opens the disk tier in <dir> (read-mostly; safe while a mount or job uses it) and reports
its blocks, bytes used against its bound, and the hits, misses, evictions and dropped fills
recorded in it by every process that used it (each saves its counts every 5 s and when it
closes). Pass --disk with the bound the cache is used with (or each directory's as
--cache-dir DIR:SIZE), so the percentage is against the right limit. With several
directories, each is listed with its own usage, counts and health.`,
  groups: [
    { title: 'Options', options: { json: { type: 'boolean', help: 'Print the stats as one JSON object.' } } },
    { title: 'Cache', options: { 'cache-dir': CACHE_OPTIONS['cache-dir']!, disk: CACHE_OPTIONS.disk!, 'block-size': CACHE_OPTIONS['block-size']! } },
  ],
  examples: [
    'sluice stats --cache-dir /var/cache/sluice',
    'sluice stats --cache-dir /var/cache/sluice --disk 100GiB --json | jq .tiers',
    'sluice stats --cache-dir /nvme0/sluice:500GiB --cache-dir /nvme1/sluice:500GiB',
  ],
  positionals: [0, 0],
  async run(ctx) {
    const reader = createReader({ ...ctx, values: { ...ctx.values, memory: '0' } }, { requireCacheDir: true, withCluster: false })
    try {
      // An empty dry-run preload waits for the disk tier to open, so an unusable cache
      // directory fails here with its own message (the core has no public "ready" yet).
      await reader.preload([], { dryRun: true })
      const stats = reader.stats()
      const tiers = stats.tiers.filter((t) => t.name !== 'memory')
      const dirs = cacheDirsOf(ctx).map((d) => d.path)
      if (ctx.values.json) {
        ctx.stdout.write(JSON.stringify({ cacheDir: dirs[0], ...(dirs.length > 1 ? { cacheDirs: dirs } : {}), tiers }, null, 2) + '\n')
        return 0
      }
      const lines = [dirs.length > 1 ? `cache directories: ${dirs.join(', ')}` : `cache directory: ${dirs[0]}`]
      for (const t of tiers) lines.push(...tierLines(t))
      ctx.stdout.write(lines.join('\n') + '\n')
      return 0
    } finally {
      await reader.close()
    }
  },
}
