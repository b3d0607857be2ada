/**
 * One "node" of a training cluster for the cluster-tier tests: a process with its own cache
 * directory (or none) and the shared Redis Cluster, reading the URLs it is given. It prints,
 * as one JSON line, its stats and a SHA-256 of what it read from each URL, so the parent can
 * check the bytes without a copy.
 */
import { createHash } from 'node:crypto'
import { BlockReader, type BlockReaderOptions } from '../../lib/index.js'

const [optionsJson, ...urls] = process.argv.slice(2)
const reader = new BlockReader(JSON.parse(optionsJson!) as BlockReaderOptions)
await reader.ready()
const sha256: Record<string, string> = {}
// Read the objects in parallel, as a node's data-loader workers would.
await Promise.all(
  urls.map(async (url) => {
    const h = await reader.open(url)
    sha256[url] = createHash('sha256').update(await h.read(0, h.size)).digest('hex')
    await h.close()
  }),
)
await reader.close()
process.stdout.write(JSON.stringify({ stats: reader.stats(), sha256 }) + '\n')
