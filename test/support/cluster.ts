/**
 * What the cluster-tier tests share: whether a Redis Cluster can run here (and why not,
 * printed when skipping), block keys, a raw client for reaching into Redis behind the
 * store's back, and a bound on how long a call may take to settle.
 */
import { test as uvuTest } from 'uvu'
import { Cluster } from 'ioredis'
import { blockKey, objectId } from '../../lib/cache/block-key.js'
import { RedisClusterBlockStore, type RedisClusterStoreOptions } from '../../lib/index.js'
import { redisClusterMissing, type RedisCluster } from '../../lib/testing/index.js'

/** Undefined when redis-server and redis-cli are here, else the reason (printed once). */
export function clusterSkipReason(suiteName: string): string | undefined {
  const reason = redisClusterMissing()
  if (reason !== undefined) console.log(`\n[${suiteName}] SKIPPING Redis Cluster tests: ${reason}`)
  return reason
}

/** `test` when a cluster can run, else a `test.skip` that counts the skip. */
export function clusterTest(reason: string | undefined): typeof uvuTest {
  return reason === undefined ? uvuTest : (uvuTest.skip as unknown as typeof uvuTest)
}

/** Block `index` of a test object named `name`. */
export function key(name: string, index: number): Uint8Array {
  return blockKey(objectId(`s3://cluster-test/${name}`, '"e"', 4 << 20, 1 << 40), index)
}

export async function openStore(cluster: RedisCluster, options: Partial<RedisClusterStoreOptions> = {}): Promise<RedisClusterBlockStore> {
  const store = new RedisClusterBlockStore({ nodes: cluster.nodes, commandTimeoutMs: 2000, ...options })
  await store.init()
  return store
}

/** A plain ioredis client of the cluster, to read and damage values behind the store's back. */
export async function rawClient(cluster: RedisCluster, password?: string): Promise<Cluster> {
  const client = new Cluster(
    cluster.masters.map((m) => ({ host: '127.0.0.1', port: m.port })),
    { lazyConnect: true, ...(password === undefined ? {} : { redisOptions: { password } }) },
  )
  client.on('error', () => {})
  await client.connect()
  return client
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }

/**
 * Waits for `promise` to settle, failing (rejecting) if it has not within `boundMs`: the
 * tier's promise is that every call settles within its timeouts, and a call that hangs must
 * fail the test rather than the run.
 */
export async function settles<T>(promise: Promise<T>, boundMs: number, what: string): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${boundMs} ms`)), boundMs)
  })
  try {
    return await Promise.race([promise.then((value): Settled<T> => ({ ok: true, value }), (error: unknown): Settled<T> => ({ ok: false, error })), hang])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `check` until it is true, failing after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
