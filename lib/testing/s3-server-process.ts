/**
 * Child-process entry that runs s3rver on loopback and prints its address as one JSON line.
 *
 * s3rver runs in its own process because listings longer than one page need Node's
 * `--openssl-legacy-provider` (its MD5-based continuation tokens), which we do not want to
 * impose on the process under test. The child exits when its parent's stdin closes, so a
 * killed test run never leaves a server behind.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
// s3rver ships CommonJS without types.
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
  run(): Promise<{ port: number; address: string }>
  close(): Promise<void>
}

const config = JSON.parse(process.argv[2] ?? '{}') as { directory: string; buckets: string[] }
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: config.directory,
  configureBuckets: config.buckets.map((name) => ({ name })),
})
const { port } = await server.run()
process.stdout.write(JSON.stringify({ port }) + '\n')
process.stdin.resume()
process.stdin.on('end', () => {
  void server.close().finally(() => process.exit(0))
})
