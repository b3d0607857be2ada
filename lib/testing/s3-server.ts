/**
 * Starts a real S3-compatible server (s3rver) on 127.0.0.1 with a temporary directory, for
 * tests, the demo and the benchmark. Exported from `sluice/testing`.
 *
 * Credentials are s3rver's fixed pair (`S3RVER`/`S3RVER`); the returned `s3` block plugs
 * straight into `BlockReader({ s3 })` and `makeS3Client`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { S3Options } from '../source/s3-client.js'

export interface S3ServerOptions {
  /** Buckets created at start. Default `['sluice']`. */
  buckets?: string[]
  /** Storage directory; default a fresh temp dir removed on close. */
  directory?: string
}

export interface S3Server {
  endpoint: string
  port: number
  /** Options for `BlockReader({ s3 })` and `makeS3Client`. */
  s3: S3Options
  close(): Promise<void>
}

const CHILD = fileURLToPath(new URL('./s3-server-process.js', import.meta.url))

/**
 * s3rver is a development dependency of sluice, not a runtime one: an install that uses
 * `sluice/testing` brings its own. Resolved here, in the caller's process, so a missing
 * package is an error that says what to install rather than a child that exits early.
 */
function checkS3rverInstalled(): void {
  try {
    import.meta.resolve('s3rver')
  } catch (err) {
    throw new Error('startS3Server needs the s3rver package, which sluice does not install for its users: npm install --save-dev s3rver@3', { cause: err })
  }
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  checkS3rverInstalled()
  const ownDir = options.directory === undefined
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'sluice-s3rver-')))
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', CHILD, JSON.stringify({ directory, buckets: options.buckets ?? ['sluice'] })],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout! })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening`)))
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port))
  })
  const endpoint = `http://127.0.0.1:${port}`
  let closed: Promise<void> | undefined
  return {
    endpoint,
    port,
    s3: {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.stdin!.end()
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      }).then(() => (ownDir ? rm(directory, { recursive: true, force: true }) : undefined))
      return closed
    },
  }
}
