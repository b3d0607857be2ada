/**
 * Crash safety of the disk tier: a child process fills a cacheDir as hard as it can and is
 * killed with SIGKILL at a random moment, again and again (CRASH_ROUNDS times, block size
 * varied so each round writes new blocks and, once the tier is full, evicts). After every
 * kill this process opens the LMDB environment read-only and scans it: every stored block
 * must pass its header and CRC32C check, the usage counter must equal the charge recomputed
 * from the blocks actually present, the entry counter their number, and the eviction queue
 * must point at exactly those blocks. At the end a fresh BlockReader on the same directory
 * reads every object at every block size used and must return the source's bytes exactly.
 *
 * The scan mirrors LmdbBlockStore's layout (see its header comment); it deliberately does not
 * go through the store, so a store bug cannot hide its own damage.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { crc32c } from '@node-rs/crc32'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { open } from 'lmdb'
import { BlockReader, KiB } from '../lib/index.js'
import { chargedBytes, HEADER_BYTES } from '../lib/cache/lmdb-block-store.js'
import { BLOCK_KEY_BYTES, CACHE_FORMAT_VERSION } from '../lib/cache/block-key.js'
import { patternBytes, prng } from './support/data.js'

const CHILD = fileURLToPath(new URL('./support/reliability-crash-child.js', import.meta.url))
export const CRASH_ROUNDS = Number(process.env.SLUICE_CRASH_ROUNDS ?? 20)
const BLOCK_SIZES = [8 * KiB, 16 * KiB, 24 * KiB, 32 * KiB, 12 * KiB]
const DISK_MAX = 3 * 1024 * KiB
const MAGIC = 0x534c4231

export interface ScanResult {
  blocks: number
  corrupt: number
  recomputedBytes: number
  usage: number
  entries: number
  orderEntries: number
  orderDangling: number
  format: number | undefined
}

/** Reads the whole environment read-only and recomputes what the counters should say. */
export async function scanCache(dir: string): Promise<ScanResult> {
  const env = open({ path: dir, maxDbs: 8, compression: false, readOnly: true })
  try {
    const blocks = env.openDB<Buffer, Buffer>({ name: 'blocks', encoding: 'binary', keyEncoding: 'binary' })
    const order = env.openDB<Buffer, Buffer>({ name: 'order', encoding: 'binary', keyEncoding: 'binary' })
    const meta = env.openDB<number, string>({ name: 'meta' })
    const r: ScanResult = { blocks: 0, corrupt: 0, recomputedBytes: 0, usage: meta.get('usage') ?? 0, entries: meta.get('entries') ?? 0, orderEntries: 0, orderDangling: 0, format: meta.get('format') }
    const seqs = new Set<number>()
    for (const { key, value } of blocks.getRange({})) {
      r.blocks++
      const ok = key.length === BLOCK_KEY_BYTES && value.length >= HEADER_BYTES && value.readUInt32LE(0) === MAGIC &&
        value.readUInt16LE(4) === CACHE_FORMAT_VERSION && value.readUInt32LE(8) === value.length - HEADER_BYTES &&
        crc32c(value.subarray(HEADER_BYTES)) === value.readUInt32LE(12)
      if (!ok) r.corrupt++
      r.recomputedBytes += chargedBytes(value.length - HEADER_BYTES)
      seqs.add(value.readDoubleLE(16))
    }
    for (const { key, value } of order.getRange({})) {
      r.orderEntries++
      const raw = blocks.getBinary(value)
      if (raw === undefined || !seqs.has(Number(key.readBigUInt64BE(0)))) r.orderDangling++
    }
    return r
  } finally {
    await env.close()
  }
}

function crashOnce(dir: string, blockSize: number, urls: string[], killAfterMs: number): Promise<{ filled: boolean; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(blockSize), String(DISK_MAX), ...urls], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let filled = false
    const hard = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.stdout.on('data', (c: Buffer) => {
      if (!filled && c.toString().includes('filling')) {
        filled = true
        setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(hard)
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (${code}): ${stderr}`))
      else resolve({ filled, signal })
    })
  })
}

test(`kill -9 during heavy cache filling, ${CRASH_ROUNDS} times: every resident block intact, usage exact`, async () => {
  const root = await mkdtemp(join(tmpdir(), 'sluice-crash-'))
  const cacheDir = join(root, 'cache')
  const random = prng(Number(process.env.SLUICE_CRASH_SEED ?? 20240601))
  try {
    const objects = new Map<string, Buffer>()
    for (let i = 0; i < 10; i++) {
      const bytes = patternBytes(180 * KiB + i * 7_777, `crash-${i}`)
      const path = join(root, `obj-${i}.bin`)
      await writeFile(path, bytes)
      objects.set(pathToFileURL(path).href, bytes)
    }
    const urls = [...objects.keys()]
    const used = new Set<number>()
    let maxBlocks = 0
    for (let round = 0; round < CRASH_ROUNDS; round++) {
      const blockSize = BLOCK_SIZES[round % BLOCK_SIZES.length]!
      used.add(blockSize)
      const killAfterMs = Math.floor(random() * 400)
      const { filled } = await crashOnce(cacheDir, blockSize, urls, killAfterMs)
      assert.ok(filled, `round ${round}: the child started filling`)
      const scan = await scanCache(cacheDir)
      const where = `round ${round} (block ${blockSize}, killed ${killAfterMs} ms into filling): ${JSON.stringify(scan)}`
      assert.is(scan.format, CACHE_FORMAT_VERSION, where)
      assert.is(scan.corrupt, 0, `no damaged block: ${where}`)
      assert.is(scan.usage, scan.recomputedBytes, `usage counter exact: ${where}`)
      assert.is(scan.entries, scan.blocks, `entry counter exact: ${where}`)
      assert.is(scan.orderEntries, scan.blocks, `eviction queue covers each block once: ${where}`)
      assert.is(scan.orderDangling, 0, where)
      assert.ok(scan.usage <= DISK_MAX, `within the bound: ${where}`)
      maxBlocks = Math.max(maxBlocks, scan.blocks)
    }
    assert.ok(maxBlocks > 0, 'the crashes left blocks behind to check')

    // A fresh reader on the same directory serves exactly the source's bytes at every block size.
    let diskHits = 0
    for (const blockSize of used) {
      // A larger bound here, so that checking one block size does not evict another's blocks.
      const reader = new BlockReader({ cacheDir, blockSize, memory: { maxBytes: 0 }, disk: { maxBytes: 64 * DISK_MAX }, prefetch: { maxReadAheadBytes: 0 } })
      for (const [url, bytes] of objects) {
        const h = await reader.open(url)
        const parts: Buffer[] = []
        for (let pos = 0; pos < h.size; pos += blockSize) parts.push(Buffer.from(await h.read(pos, blockSize)))
        const got = Buffer.concat(parts)
        assert.ok(got.equals(bytes), `${url} at block ${blockSize} reads back exactly`)
        await h.close()
      }
      const disk = reader.stats().tiers.find((t) => t.name === 'disk')!
      assert.is(disk.errors, 0, `no corrupt block met: ${JSON.stringify(disk)}`)
      diskHits += disk.hits
      await reader.close()
    }
    assert.ok(diskHits > 0, 'blocks left by killed processes were served (verified) after the crashes')
    const final = await scanCache(cacheDir)
    assert.is(final.usage, final.recomputedBytes)
    console.log(`[reliability-crash] ${CRASH_ROUNDS} kill -9 rounds survived; up to ${maxBlocks} resident blocks checked per round; ${diskHits} verified disk hits afterwards; bytes lost: 0`)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

test.run()
