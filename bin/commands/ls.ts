/**
 * `sluice ls`: what is under a URL, with sizes and times. One level by default (deeper keys
 * are folded into `DIR` lines, like a file system), everything with `--recursive`.
 */
import { formatBytes, type ObjectInfo } from '../../lib/index.js'
import type { Command } from '../support/command.js'
import { NotFoundLike, statOrList } from '../support/targets.js'
import { STORE_OPTIONS, createReader } from '../support/reader-options.js'

function timeOf(info: ObjectInfo): string {
  return info.mtimeMs === undefined ? '-'.padEnd(19) : new Date(info.mtimeMs).toISOString().slice(0, 19).replace('T', ' ')
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'List objects under a URL with sizes and modification times.',
  usage: ['sluice ls <url> [--recursive] [--human-readable]'],
  description: `
Lists the objects under <url>: a prefix (s3://bucket/dir/), a bucket (s3://bucket), a
directory (file:///data or /data), or one object. Each line shows the size in bytes, the
modification time (UTC) and the object's URL; prefixes one level down are shown as DIR.
A final line on stderr counts objects and bytes.`,
  groups: [
    {
      title: 'Options',
      options: {
        recursive: { type: 'boolean', short: 'r', help: 'List every object below, not one level.' },
        'human-readable': { type: 'boolean', short: 'H', help: 'Sizes as 1.50 GiB instead of bytes.' },
      },
    },
    { title: 'Store', options: STORE_OPTIONS },
  ],
  examples: [
    'sluice ls s3://bucket/train/',
    'sluice ls -r -H s3://bucket/train',
    'AWS_ENDPOINT_URL=http://minio:9000 sluice ls s3://bucket',
  ],
  positionals: [1, 1],
  async run(ctx) {
    // Listing needs no cache; an empty cache dir keeps $SLUICE_CACHE_DIR from opening one.
    const reader = createReader({ ...ctx, values: { ...ctx.values, 'cache-dir': '' } }, { withCluster: false })
    try {
      const url = ctx.positionals[0]!
      const { prefix, objects } = await statOrList(reader, url)
      if (objects.length === 0) throw new NotFoundLike(url)
      const human = ctx.values['human-readable'] === true
      const size = (n: number) => (human ? formatBytes(n) : String(n)).padStart(human ? 11 : 14)
      const lines: string[] = []
      const dirs = new Set<string>()
      let bytes = 0
      for (const info of objects) {
        bytes += info.size
        const rest = prefix === undefined ? '' : info.url.slice(prefix.length)
        const slash = rest.indexOf('/')
        if (!ctx.values.recursive && slash >= 0) {
          const dir = prefix + rest.slice(0, slash + 1)
          if (!dirs.has(dir)) {
            dirs.add(dir)
            lines.push(`${'DIR'.padStart(human ? 11 : 14)}  ${''.padEnd(19)}  ${dir}`)
          }
          continue
        }
        lines.push(`${size(info.size)}  ${timeOf(info)}  ${info.url}`)
      }
      ctx.stdout.write(lines.join('\n') + '\n')
      ctx.stderr.write(`${objects.length} object${objects.length === 1 ? '' : 's'}, ${formatBytes(bytes)}${human ? '' : ` (${bytes} bytes)`}\n`)
      return 0
    } finally {
      await reader.close()
    }
  },
}
