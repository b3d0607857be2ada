/**
 * Child-process entry that runs s3rver on loopback and prints its address as one JSON line.
 *
 * s3rver runs in its own process because listings longer than one page need Node's
 * `--openssl-legacy-provider` (its MD5-based continuation tokens), which we do not want to
 * impose on the process under test. The child exits when its parent's stdin closes, so a
 * killed test run never leaves a server behind.
 */

// s3rver is a development dependency, loaded only here, when a server is started (the
// parent checks that it is installed first). It ships CommonJS without types, hence the
// name in a variable and the cast.
const S3RVER = 's3rver'
const S3rver = ((await import(S3RVER)) as { default: unknown }).default as new (options: Record<string, unknown>) => {
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
