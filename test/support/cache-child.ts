/**
 * A second process for the shared-cache test: reads the URLs it is given through a
 * BlockReader on the shared cacheDir and prints its stats as one JSON line.
 */
import { BlockReader } from '../../lib/index.js'

const [cacheDir, s3Json, ...urls] = process.argv.slice(2)
const reader = new BlockReader({ cacheDir: cacheDir!, s3: JSON.parse(s3Json!), blockSize: 256 * 1024, memory: { maxBytes: 0 } })
for (const url of urls) {
  const h = await reader.open(url)
  await h.read(0, h.size)
}
await reader.close()
process.stdout.write(JSON.stringify(reader.stats()) + '\n')
