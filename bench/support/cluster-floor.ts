/**
 * The least a joining node must do, measured on the same cluster and machine as the node
 * (bench/cluster.ts, phase c): receive every value of the dataset from the Redis Cluster and
 * put it in one local tier, in the cheapest way each tier allows. No checks, no cache, no
 * TFRecord parsing: floors for the joining node's epoch, and the ceiling its targets can be
 * held against.
 *
 * - keep: each value received into a new buffer that is kept, as a memory tier must;
 * - write: each value received into one of a few buffers used over and over, and written
 *   to a file from it, as a disk tier that keeps nothing in memory must.
 *
 * It receives the way the cluster tier does at its best (heads through ioredis, bulks read
 * by cluster-bulk-reader.ts straight into their buffers), 16 values in flight, in a process
 * of its own like a node. Imported, it offers `measureFloor`; run as a script, it is the
 * child, printing one JSON line.
 */
import { spawn } from 'node:child_process'
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cluster } from 'ioredis'
import { ClusterBulkReader } from '../../lib/cache/cluster-bulk-reader.js'
import { TAIL_BYTES, bulkKeyOf, isValueKey } from '../../lib/cache/cluster-value.js'

const SELF = fileURLToPath(import.meta.url)
const IN_FLIGHT = 16

export interface FloorSpec {
  /** Seed node URLs (`redis://127.0.0.1:port`). */
  nodes: string[]
  keyPrefix: string
  /** `write`: into reused buffers, each value written to a file in this directory; undefined: `keep`. */
  writeDir?: string
}

export interface FloorResult {
  values: number
  bytes: number
  seconds: number
  cpuSeconds: number
}

/** Runs the floor in a new process; rejects if it fails or takes longer than `timeoutMs`. */
export function measureFloor(spec: FloorSpec, timeoutMs: number): Promise<FloorResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      try {
        if (code !== 0) throw new Error(`cluster floor exited (${signal ?? `code ${code}`})`)
        resolve(JSON.parse(out) as FloorResult)
      } catch (err) {
        reject(err as Error)
      }
    })
  })
}

async function runChild(spec: FloorSpec): Promise<FloorResult> {
  const client = new Cluster(
    spec.nodes.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) })),
    { lazyConnect: true, enableAutoPipelining: true },
  )
  await client.connect()
  const heads: string[] = []
  for (const master of client.nodes('master')) {
    let cursor = '0'
    do {
      const [next, names] = await master.scan(cursor, 'MATCH', `${spec.keyPrefix}*`, 'COUNT', 1000)
      cursor = next
      heads.push(...names.filter(isValueKey))
    } while (cursor !== '0')
  }
  const bulks = new ClusterBulkReader(client, { username: undefined, password: undefined, idleTimeoutMs: 10_000, connectTimeoutMs: 10_000, maxValueBytes: 1 << 30 })
  const fd = spec.writeDir === undefined ? undefined : openSync(join(spec.writeDir, 'floor.bin'), 'w')
  const kept: Uint8Array[] = []
  let bytes = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let next = 0
  const lane = async () => {
    // Writing, a lane reads every value into the same buffer (grown to the largest).
    let reused: Buffer | undefined
    while (next < heads.length) {
      const head = heads[next++]!
      const [headBytes, bulk] = await Promise.all([client.getBuffer(head), bulks.read(['GET', bulkKeyOf(head)], TAIL_BYTES, reused)])
      if (headBytes === null || bulk === undefined) throw new Error(`floor: value ${head} not read`)
      // The block is the bulk and the head's last TAIL_BYTES (a block this small has no bulk: skipped, as rare as it is cheap).
      if (bulk === null) continue
      const block = bulk.block.subarray(0, bulk.length + TAIL_BYTES)
      block.set(headBytes.subarray(headBytes.length - TAIL_BYTES), bulk.length)
      bytes += block.length
      if (fd === undefined) kept.push(block, headBytes)
      else {
        writeSync(fd, block)
        reused = bulk.block
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  if (fd !== undefined) {
    fsyncSync(fd)
    closeSync(fd)
  }
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  bulks.close()
  client.disconnect()
  return { values: heads.length, bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

if (process.argv[1] === SELF) {
  runChild(JSON.parse(process.argv[2]!) as FloorSpec).then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n')
      process.exit(0)
    },
    (err: unknown) => {
      console.error((err as Error)?.stack ?? String(err))
      process.exit(1)
    },
  )
}
