/**
 * What a disk-tier fill costs the reader's event loop (`node dist/bench/disk-fill.js`): 200
 * blocks of 4 MiB, arriving 5 ms apart as from a network and kept alive as the memory tier
 * keeps them, are stored in a fresh LmdbBlockStore. It prints the event loop's busy time per
 * fill with the block's own allocation and copy taken out, and the process's CPU per fill
 * (every thread). Env: FILL_BLOCKS (200).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { LmdbBlockStore, MiB } from '../lib/index.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'

const BLOCKS = Number(process.env.FILL_BLOCKS ?? 200)
const BLOCK = 4 * MiB

const dir = await mkdtemp(join(tmpdir(), 'sluice-fill-'))
try {
  const store = new LmdbBlockStore({ path: join(dir, 'cache'), maxBytes: 2 * BLOCKS * BLOCK, blockSize: BLOCK })
  await store.init()
  const id = objectId('s3://bench/fill', '"e"', BLOCK, 2 ** 40)
  const source = Buffer.alloc(BLOCK, 3)
  const kept: Buffer[] = []
  const pending: Promise<boolean>[] = []
  let allocMs = 0
  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < BLOCKS; i++) {
    const ta = performance.now()
    const block = Buffer.allocUnsafe(BLOCK)
    block.set(source)
    kept.push(block)
    allocMs += performance.now() - ta
    pending.push(store.put(blockKey(id, i), block))
    if (pending.length >= 4) await pending.shift()
    await sleep(5)
  }
  await Promise.all(pending)
  const wall = performance.now() - t0
  const busy = performance.eventLoopUtilization(elu0).utilization * wall
  const cpu = process.cpuUsage(cpu0)
  console.log(`event loop per 4 MiB fill: ${((busy - allocMs) / BLOCKS).toFixed(2)} ms (the block's allocation and copy, excluded: ${(allocMs / BLOCKS).toFixed(2)} ms)`)
  console.log(`process CPU per fill, every thread: ${((cpu.user + cpu.system) / 1000 / BLOCKS).toFixed(2)} ms; blocks stored: ${store.usage().entries}`)
  await store.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
