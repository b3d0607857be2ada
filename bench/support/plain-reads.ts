/**
 * The plain reads the benchmarks measure sluice against, and sluice's own read loop, shared
 * so that every benchmark reads the same way: local files with fs.read, a plain sequential
 * GetObject stream, and `readInto` of 4 MiB pieces into a reused buffer.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { MiB, parseS3Url, type BlockReader } from '../../lib/index.js'

/** The piece every loop reads: one block. */
export const READ = 4 * MiB

export interface Timed {
  bytes: number
  seconds: number
  /** This process's CPU (user + system, every thread) per GB. */
  cpuSecondsPerGB: number
}

/** Runs a read loop, checks it read `expected` bytes, and times it with this process's CPU. */
export async function timedRead(expected: number, fn: () => Promise<number>): Promise<Timed> {
  const cpu = process.cpuUsage()
  const t = performance.now()
  const bytes = await fn()
  const seconds = (performance.now() - t) / 1000
  const used = process.cpuUsage(cpu)
  if (bytes !== expected) throw new Error(`read ${bytes} bytes, expected ${expected}`)
  return { bytes, seconds, cpuSecondsPerGB: (used.user + used.system) / 1e6 / (bytes / 1e9) }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/**
 * The files read in 4 MiB pieces into one reused buffer, or with `keep` into a new buffer per
 * piece that stays alive, as a memory tier keeps what it promotes: the cost of new memory on
 * the machine at hand, separated from the cost of the cache.
 */
export async function readFiles(paths: string[], keep = false): Promise<number> {
  const reused = Buffer.allocUnsafe(READ)
  const kept: Buffer[] = []
  let total = 0
  for (const p of paths) {
    const fh = await open(p, 'r')
    for (let pos = 0; ; ) {
      const buf = keep ? Buffer.allocUnsafe(READ) : reused
      if (keep) kept.push(buf)
      const { bytesRead } = await fh.read(buf, 0, READ, pos)
      if (bytesRead === 0) break
      pos += bytesRead
      total += bytesRead
    }
    await fh.close()
  }
  return total
}

export async function readSluice(reader: BlockReader, urls: string[]): Promise<number> {
  const buf = Buffer.allocUnsafe(READ)
  let total = 0
  for (const url of urls) {
    const h = await reader.open(url)
    for (let pos = 0; pos < h.size; ) {
      const n = await h.readInto(buf, 0, pos, READ)
      pos += n
      total += n
    }
    await h.close()
  }
  return total
}

/**
 * Sequential GetObject of every object. `keep` copies the body into 4 MiB blocks that live
 * until the run ends, as a cache's memory tier does; with `writeDir`, each block is also
 * written to a new file there (writes in flight together, one sync per object).
 */
export async function streamObjects(client: S3Client, urls: string[], mode: 'discard' | 'keep', writeDir?: string): Promise<number> {
  const kept: Buffer[] = []
  let total = 0
  for (const url of urls) {
    const { bucket, key } = parseS3Url(url)
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    const file = writeDir === undefined ? undefined : await open(join(writeDir, key.replaceAll('/', '_')), 'w')
    const writes: Promise<unknown>[] = []
    let block: Buffer | undefined
    let filled = 0
    let position = 0
    const keep = (bytes: Buffer) => {
      kept.push(bytes)
      if (file !== undefined) writes.push(file.write(bytes, 0, bytes.length, position))
      position += bytes.length
    }
    for await (const chunk of res.Body as Readable) {
      const bytes = chunk as Buffer
      total += bytes.length
      if (mode === 'discard') continue
      for (let at = 0; at < bytes.length; ) {
        block ??= Buffer.allocUnsafe(READ)
        const n = Math.min(bytes.length - at, READ - filled)
        block.set(bytes.subarray(at, at + n), filled)
        at += n
        filled += n
        if (filled === READ) {
          keep(block)
          block = undefined
          filled = 0
        }
      }
    }
    if (block !== undefined) keep(block.subarray(0, filled))
    if (file !== undefined) {
      await Promise.all(writes)
      await file.sync()
      await file.close()
    }
  }
  return total
}
