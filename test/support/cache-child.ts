/**
 * A second process for the shared-cache test: reads the URLs it is given through a
 * BlockReader on the shared cacheDir and prints, as one JSON line, its stats and a SHA-256
 * of the bytes it read from each URL, so the parent can check them without a copy.
 */
import { createHash } from 'node:crypto'
import { BlockReader } from '../../lib/index.js'

const [cacheDir, s3Json, ...urls] = process.argv.slice(2)
const reader = new BlockReader({ cacheDir: cacheDir!, s3: JSON.parse(s3Json!), blockSize: 256 * 1024, memory: { maxBytes: 0 } })
const sha256: Record<string, string> = {}
for (const url of urls) {
  const h = await reader.open(url)
  sha256[url] = createHash('sha256').update(await h.read(0, h.size)).digest('hex')
}
await reader.close()
process.stdout.write(JSON.stringify({ stats: reader.stats(), sha256 }) + '\n')
