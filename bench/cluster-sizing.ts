/**
 * Sizing the cluster tier (`node dist/bench/cluster-sizing.js`), on a real three-master Redis
 * Cluster on loopback (lib/testing). Two questions, both about Redis rather than about speed:
 *
 * (a) What does a block cost in Redis memory? `MEMORY USAGE` of one stored value (header
 *     included) per block size, and the growth of the masters' `used_memory` per block over
 *     BLOCKS_FOR_GROWTH blocks. jemalloc rounds large allocations up to size classes (4 of
 *     them per power of two), so a 4 MiB block plus anything lands in the 5 MiB class.
 *
 * (b) Which maxmemory policy suits training's cyclic epochs? A dataset of EVICTION_BLOCKS
 *     blocks, about twice what the cluster may hold (maxmemory per master set from the
 *     measured cost per block), read in the same order for 3 epochs through the store (GET;
 *     on a miss, SET), once per policy. The hit ratio of epochs 2-3 is what a policy keeps
 *     of a loop that does not fit. `volatile-*` policies evict only keys with a TTL, and the
 *     tier sets none, so they behave as `noeviction` (reported as the reference: once full,
 *     fills are refused and the first half stays).
 *
 * Env: SIZING_BLOCK_MIB (4), SIZING_GROWTH_BLOCKS (50), SIZING_EVICTION_BLOCKS (128),
 * SIZING_POLICIES (allkeys-lru,allkeys-lfu,allkeys-random,noeviction).
 * Prints its configuration, a table, and one JSON line.
 */
import { cpus, totalmem } from 'node:os'
import { Cluster } from 'ioredis'
import { RedisClusterBlockStore, MiB, GiB } from '../lib/index.js'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { startRedisCluster, redisClusterMissing, type RedisCluster } from '../lib/testing/index.js'

const BLOCK = Number(process.env.SIZING_BLOCK_MIB ?? 4) * MiB
const GROWTH_BLOCKS = Number(process.env.SIZING_GROWTH_BLOCKS ?? 50)
const EVICTION_BLOCKS = Number(process.env.SIZING_EVICTION_BLOCKS ?? 128)
const POLICIES = (process.env.SIZING_POLICIES ?? 'allkeys-lru,allkeys-lfu,allkeys-random,noeviction').split(',')
const EPOCHS = 3
/** Blocks read at once within an epoch (a reader's prefetch window, in order). */
const WINDOW = 4

const missing = redisClusterMissing()
if (missing !== undefined) {
  console.log(`cluster-sizing: cannot run: ${missing}`)
  process.exit(1)
}

const config = { blockBytes: BLOCK, growthBlocks: GROWTH_BLOCKS, evictionBlocks: EVICTION_BLOCKS, epochs: EPOCHS, policies: POLICIES, masters: 3, cpus: cpus().length, memGiB: Math.round(totalmem() / GiB), node: process.version }
console.log('config', JSON.stringify(config))

function keyOf(name: string, i: number): Uint8Array {
  return blockKey(objectId(`s3://sizing/${name}`, '"e"', BLOCK, 2 ** 40), i)
}

function block(i: number, size: number): Buffer {
  return Buffer.alloc(size, i % 251)
}

async function usedMemory(cluster: RedisCluster): Promise<number> {
  let sum = 0
  for (const m of cluster.masters) sum += Number(/used_memory:(\d+)/.exec(String(await cluster.command(m.port, 'INFO', 'memory')))?.[1])
  return sum
}

async function eachMaster(cluster: RedisCluster, ...args: (string | number)[]): Promise<void> {
  for (const m of cluster.masters) await cluster.command(m.port, ...args)
}

/** (a): MEMORY USAGE of one value per size, and used_memory growth per block. */
async function memoryCost(cluster: RedisCluster, raw: Cluster, store: RedisClusterBlockStore) {
  const perValue: Record<string, number> = {}
  for (const size of new Set([MiB, 4 * MiB, BLOCK])) {
    const key = keyOf(`one-${size}`, 0)
    await store.put(key, block(0, size))
    const name = `sluice:{${Buffer.from(key).toString('hex')}}`
    // A value is a head and a bulk (cluster-value.ts): both are what the block costs.
    const head = Number(await raw.call('MEMORY', 'USAGE', name, 'SAMPLES', '0'))
    const bulk = Number((await raw.call('MEMORY', 'USAGE', `${name}:data`, 'SAMPLES', '0')) ?? 0)
    perValue[`${size / MiB}MiB`] = head + bulk
  }
  await eachMaster(cluster, 'FLUSHALL')
  const before = await usedMemory(cluster)
  for (let i = 0; i < GROWTH_BLOCKS; i++) await store.put(keyOf('growth', i), block(i, BLOCK))
  const growthPerBlock = (await usedMemory(cluster)) - before
  await eachMaster(cluster, 'FLUSHALL')
  return { memoryUsage: perValue, usedMemoryPerBlock: Math.round(growthPerBlock / GROWTH_BLOCKS) }
}

/** (b): epochs over a dataset twice the cluster's memory, under one policy. */
async function epochs(cluster: RedisCluster, store: RedisClusterBlockStore, policy: string, maxmemoryPerMaster: number) {
  await eachMaster(cluster, 'FLUSHALL')
  await eachMaster(cluster, 'CONFIG', 'SET', 'maxmemory-policy', policy)
  await eachMaster(cluster, 'CONFIG', 'SET', 'maxmemory', maxmemoryPerMaster)
  await eachMaster(cluster, 'CONFIG', 'RESETSTAT')
  const hits: number[] = []
  let refused = 0
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    let h = 0
    for (let start = 0; start < EVICTION_BLOCKS; start += WINDOW) {
      const keys = Array.from({ length: Math.min(WINDOW, EVICTION_BLOCKS - start) }, (_, j) => keyOf('epochs', start + j))
      const got = await store.getMany(keys)
      await Promise.all(
        got.map(async (b, j) => {
          if (b !== undefined) return h++
          if (!(await store.put(keys[j]!, block(start + j, BLOCK)))) refused++
        }),
      )
    }
    hits.push(h)
  }
  let evicted = 0
  for (const m of cluster.masters) evicted += Number(/evicted_keys:(\d+)/.exec(String(await cluster.command(m.port, 'INFO', 'stats')))?.[1])
  await eachMaster(cluster, 'CONFIG', 'SET', 'maxmemory', 0)
  return { policy, hitsPerEpoch: hits, hitRatioEpochs2to3: (hits[1]! + hits[2]!) / (2 * EVICTION_BLOCKS), evictedKeys: evicted, refusedFills: refused }
}

const started = Date.now()
const cluster = await startRedisCluster({ masters: 3 })
const store = new RedisClusterBlockStore({ nodes: cluster.nodes, commandTimeoutMs: 10_000 })
const raw = new Cluster(cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port })), { lazyConnect: true })
try {
  await store.init()
  await raw.connect()
  const cost = await memoryCost(cluster, raw, store)
  // Twice the dataset's cost in Redis memory is the cluster's; each master's baseline on top.
  const baseline = Math.round((await usedMemory(cluster)) / 3)
  const maxmemoryPerMaster = Math.round((EVICTION_BLOCKS * cost.usedMemoryPerBlock) / 2 / 3) + baseline
  const policies = []
  for (const policy of POLICIES) policies.push(await epochs(cluster, store, policy, maxmemoryPerMaster))
  const pad = (s: string | number, n: number) => String(s).padEnd(n)
  console.log(`\n(a) memory per value: ${Object.entries(cost.memoryUsage).map(([k, v]) => `${k} -> ${(v / MiB).toFixed(3)} MiB`).join(', ')}; used_memory growth per ${BLOCK / MiB} MiB block over ${GROWTH_BLOCKS}: ${(cost.usedMemoryPerBlock / MiB).toFixed(3)} MiB`)
  console.log(`(b) ${EVICTION_BLOCKS} blocks of ${BLOCK / MiB} MiB, maxmemory ${(maxmemoryPerMaster / MiB).toFixed(1)} MiB x 3 masters (dataset ~2x), ${EPOCHS} epochs in the same order`)
  console.log(`${pad('policy', 16)}${pad('hits/epoch', 16)}${pad('hit ratio 2-3', 15)}${pad('evicted', 9)}refused fills`)
  for (const p of policies) console.log(`${pad(p.policy, 16)}${pad(p.hitsPerEpoch.join(' / '), 16)}${pad(p.hitRatioEpochs2to3.toFixed(3), 15)}${pad(p.evictedKeys, 9)}${p.refusedFills}`)
  console.log(JSON.stringify({ bench: 'cluster-sizing', config, ...cost, maxmemoryPerMaster, policies, seconds: (Date.now() - started) / 1000 }))
} finally {
  raw.disconnect()
  await store.close()
  await cluster.stop()
}
