/**
 * `sluice cache clear|evict`: removing cached data, whole or per object (or per prefix), from
 * a cache directory. Safe while other processes use the cache: they refetch what they miss.
 */
import { formatBytes } from '../../lib/index.js'
import type { Command } from '../support/command.js'
import { UsageError } from '../support/exit-codes.js'
import { CACHE_OPTIONS, STORE_OPTIONS, createReader } from '../support/reader-options.js'

export const cacheCommand: Command = {
  name: 'cache',
  summary: 'Clear a cache directory, or evict one object or prefix from it.',
  usage: ['sluice cache clear --cache-dir <dir>', 'sluice cache evict <url> --cache-dir <dir>'],
  description: `
clear    removes every cached block from the memory and disk tiers of <dir>.
evict    removes every cached block (all versions) of the object <url>. A URL ending in '/'
         evicts every object the store lists under that prefix.`,
  groups: [
    { title: 'Cache', options: { 'cache-dir': CACHE_OPTIONS['cache-dir']!, 'block-size': CACHE_OPTIONS['block-size']! } },
    { title: 'Store (evict of a prefix lists it)', options: STORE_OPTIONS },
  ],
  examples: [
    'sluice cache clear --cache-dir /var/cache/sluice',
    'sluice cache evict s3://bucket/train/shard-00003.tfrecord --cache-dir /var/cache/sluice',
    'sluice cache evict s3://bucket/old-dataset/ --cache-dir /var/cache/sluice',
  ],
  positionals: [1, 2],
  async run(ctx) {
    const [action, url] = ctx.positionals
    if (action !== 'clear' && action !== 'evict') throw new UsageError(`unknown cache action ${JSON.stringify(action)}; expected clear or evict`)
    if (action === 'clear' && url !== undefined) throw new UsageError('cache clear takes no URL; to drop one object use: sluice cache evict <url>')
    if (action === 'evict' && url === undefined) throw new UsageError('missing URL; usage: sluice cache evict <url> --cache-dir <dir>')
    const reader = createReader(ctx, { requireCacheDir: true, withCluster: false })
    try {
      if (action === 'clear') {
        const before = reader.stats().tiers.reduce((n, t) => n + t.usedBytes, 0)
        await reader.clearCache()
        ctx.stdout.write(`cleared ${formatBytes(before)} from ${reader.cacheDirs.join(', ')}\n`)
        return 0
      }
      const urls = url!.endsWith('/') ? (await reader.list(url!)).map((o) => o.url) : [url!]
      let blocks = 0
      for (const u of urls) blocks += await reader.evict(u)
      ctx.stdout.write(`evicted ${blocks} block${blocks === 1 ? '' : 's'} of ${urls.length} object${urls.length === 1 ? '' : 's'}\n`)
      return 0
    } finally {
      await reader.close()
    }
  },
}
