/**
 * The plan-cache benchmark's scenario at a small size, as a test of the whole path: a
 * global-shuffle order over twice the disk tier, read record by record through a BlockReader
 * with a real LMDB tier. The plan's eviction alone must fetch what Belady's offline optimum
 * (computed independently, in the benchmark) fetches, give or take a block or two; fetching
 * ahead may cost a little more; no plan costs far more. Counts, not timings.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KiB, MiB } from '../lib/index.js'
import { dataset, fetchedPerEpoch, optimumPerEpoch, type PlanBenchConfig } from '../bench/plan-cache.js'

const config: PlanBenchConfig = { blockSize: 64 * KiB, diskBytes: 2 * MiB, shards: 4, shardBytes: 1 * MiB, minRecordBytes: 4 * KiB, maxRecordBytes: 12 * KiB, seed: 7 }

test('a global shuffle over twice the disk tier: the plan fetches what the offline optimum does', async () => {
  const data = dataset(config)
  const root = await mkdtemp(join(tmpdir(), 'sluice-plan-cache-'))
  try {
    const total = (f: number[]) => f.reduce((a, b) => a + b, 0)
    const optimum = total(optimumPerEpoch(config, data))
    const evictionOnly = total(await fetchedPerEpoch(config, data, await mkdtemp(join(root, 'e-')), 'planNoPrefetch'))
    const planned = total(await fetchedPerEpoch(config, data, await mkdtemp(join(root, 'p-')), 'plan'))
    const current = total(await fetchedPerEpoch(config, data, await mkdtemp(join(root, 'c-')), 'current'))
    const figures = `blocks: optimum ${optimum / config.blockSize}, eviction only ${evictionOnly / config.blockSize}, plan ${planned / config.blockSize}, no plan ${current / config.blockSize}`
    assert.ok(evictionOnly >= optimum, `nothing beats the optimum: ${figures}`)
    assert.ok(evictionOnly <= optimum + 2 * config.blockSize, `eviction by the plan is Belady's: ${figures}`)
    assert.ok(planned <= optimum * 1.1, `fetching ahead costs at most 10%: ${figures}`)
    assert.ok(current >= optimum * 1.5, `without a plan the tier fetches far more: ${figures}`)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

test.run()
