/**
 * The cluster tier when things go wrong, against real redis-server processes: a master
 * killed mid-use, then the whole cluster stopped (every call still settles within its
 * bounds, and never with wrong bytes); a failover to a replica (the tier serves again once
 * the cluster has healed); and the errors of a bad configuration: a client error carrying a
 * password (never shown), a malformed node URL (a TypeError naming the option), a server
 * that is not a cluster node, a node nobody listens on.
 */
import { test as uvuTest } from 'uvu'
import * as assert from 'uvu/assert'
import { inspect } from 'node:util'
import { ClusterError, RedisClusterBlockStore } from '../lib/index.js'
import { bounded } from '../lib/cache/cluster-client.js'
import { startRedisCluster, startRedisServer } from '../lib/testing/index.js'
import { clusterSkipReason, clusterTest, key, openStore, settles, until } from './support/cluster.js'
import { patternBytes } from './support/data.js'

const skip = clusterSkipReason('cluster-store-faults')
// Tests that need no server run everywhere; the others only where redis-server is.
const test = clusterTest(skip)
const COMMAND_TIMEOUT_MS = 500
/** Generous next to the timeouts: a call that takes longer is hanging. */
const SETTLE_BOUND_MS = 10_000

/** getMany over `keys`: resolves or rejects within bounds, and whatever it returns is exact. */
async function readSettles(store: RedisClusterBlockStore, keys: Uint8Array[], blocks: Buffer[], what: string): Promise<'resolved' | 'rejected'> {
  const r = await settles(store.getMany(keys), SETTLE_BOUND_MS, what)
  if (!r.ok) {
    assert.instance(r.error, ClusterError, `${what}: a failure is a ClusterError (${String(r.error)})`)
    assert.is((r.error as ClusterError).code, 'ERR_SLUICE_CLUSTER')
    return 'rejected'
  }
  r.value.forEach((block, i) => assert.ok(block === undefined || Buffer.from(block).equals(blocks[i]!), `${what}: block ${i} is a miss or exact`))
  return 'resolved'
}

test('a master killed mid-use, then the whole cluster stopped: every call settles within bounds, no wrong bytes', async () => {
  const cluster = await startRedisCluster({ masters: 3 })
  const store = await openStore(cluster, { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 1000, maxWaitMs: 1000 })
  try {
    const keys = Array.from({ length: 30 }, (_, i) => key('kill', i))
    const blocks = keys.map((_, i) => patternBytes(i === 0 ? 4 << 20 : 2000, `kill-${i}`))
    for (let i = 0; i < keys.length; i++) assert.ok(await store.put(keys[i]!, blocks[i]!))
    assert.is(await readSettles(store, keys, blocks, 'getMany before the kill'), 'resolved')

    await cluster.killMaster(1)
    // Reads race the kill, the failure detection and cluster_state:fail; each settles.
    const outcomes = new Set<string>()
    for (let round = 0; round < 5; round++) outcomes.add(await readSettles(store, keys, blocks, `getMany ${round} after the kill`))
    assert.ok(outcomes.has('rejected'), 'a third of the blocks is gone: reads fail rather than report them missing')
    await cluster.waitForState('fail', 20_000)
    assert.is(await readSettles(store, keys, blocks, 'getMany with the cluster down'), 'rejected')
    for (const [what, call] of [
      ['put', () => store.put(key('kill', 100), patternBytes(100, 'p'))],
      ['acquire', () => store.leases.acquire(keys.slice(0, 3))],
    ] as const) {
      const r = await settles<unknown>(call(), SETTLE_BOUND_MS, `${what} with the cluster down`)
      assert.ok(!r.ok && r.error instanceof ClusterError, `${what} rejects with a ClusterError`)
    }

    await cluster.stop()
    assert.is(await readSettles(store, keys, blocks, 'getMany with every node stopped'), 'rejected')
    const calls: [string, () => Promise<unknown>][] = [
      ['put', () => store.put(keys[0]!, blocks[0]!)],
      ['delete', () => store.delete(keys[0]!)],
      ['deletePrefix', () => store.deletePrefix(keys[0]!.subarray(0, 16))],
      ['acquire', () => store.leases.acquire(keys)],
      ['release', () => store.leases.release(keys)],
    ]
    for (const [what, call] of calls) {
      const r = await settles(call(), SETTLE_BOUND_MS, `${what} with every node stopped`)
      assert.ok(r.ok || r.error instanceof ClusterError, `${what}: settles, a failure is a ClusterError`)
    }
    const waited = await settles(store.leases.waitFor(keys.slice(0, 2)), SETTLE_BOUND_MS, 'waitFor with every node stopped')
    assert.equal(waited, { ok: true, value: [undefined, undefined] }, 'waitFor gives the blocks back to the caller')
    assert.type(store.usage().usedBytes, 'number')
    assert.ok((await settles(store.close(), SETTLE_BOUND_MS, 'close')).ok)
  } finally {
    await store.close()
    await cluster.stop()
  }
})

test('a failover to a replica: calls settle while it happens, and the tier serves again once the cluster has healed', async () => {
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 })
  const store = await openStore(cluster, { commandTimeoutMs: COMMAND_TIMEOUT_MS })
  try {
    const keys = Array.from({ length: 12 }, (_, i) => key('failover', i))
    const blocks = keys.map((_, i) => patternBytes(1000 + i, `fo-${i}`))
    for (let i = 0; i < keys.length; i++) assert.ok(await store.put(keys[i]!, blocks[i]!))
    await cluster.killMaster(0)
    await readSettles(store, keys, blocks, 'getMany during the failover')
    await cluster.waitForFailover(0, 30_000)
    await cluster.waitForState('ok', 30_000)
    // The client learns the new topology from MOVED replies and its periodic slot refresh.
    await until(async () => (await settles(store.getMany(keys), SETTLE_BOUND_MS, 'getMany after the failover')).ok, 20_000, 'reads to succeed again')
    const k = key('failover', 99)
    await until(async () => (await settles(store.put(k, blocks[0]!), SETTLE_BOUND_MS, 'put after the failover')).ok, 20_000, 'fills to succeed again')
    assert.ok(Buffer.from((await store.getMany([k]))[0]!).equals(blocks[0]!))
  } finally {
    await store.close()
    await cluster.stop()
  }
})

uvuTest('a client error carrying the password (in its message or its command) becomes a ClusterError without it', async () => {
  const password = 'pa55-in-an-error'
  const leaky = Object.assign(new Error(`ERR something about ${password} and ${encodeURIComponent(password)}`), { command: { name: 'auth', args: ['default', password] } })
  const r = await settles(bounded(Promise.reject(leaky), 1000, 'AUTH', password), SETTLE_BOUND_MS, 'bounded')
  assert.ok(!r.ok && r.error instanceof ClusterError && r.error.code === 'ERR_SLUICE_CLUSTER')
  const err = r.error as ClusterError
  assert.match(err.message, /ERR something about \[REDACTED\]/)
  for (const text of [err.message, err.stack ?? '', inspect(err, { depth: 10 }), inspect(err.cause, { depth: 10 })]) {
    assert.not.ok(text.includes(password), `the password stays out of: ${text.slice(0, 300)}`)
  }
})

uvuTest('malformed options: TypeError / RangeError naming the option path, never printing a password', () => {
  const throwsWith = (options: unknown, type: typeof TypeError, pattern: RegExp) => {
    try {
      new RedisClusterBlockStore(options as never)
      assert.unreachable('accepted malformed options')
    } catch (err) {
      assert.instance(err, type)
      assert.match((err as Error).message, pattern)
      assert.not.match((err as Error).message, /s3cret/)
    }
  }
  throwsWith({ nodes: ['redis://127.0.0.1:7000', 'redis://u:s3cret@127.0.0.1:70000'] }, TypeError, /^cluster\.nodes\[1\]: not a URL/)
  throwsWith({ nodes: ['redis://127.0.0.1:7000', 'http://u:s3cret@host:7000'] }, TypeError, /^cluster\.nodes\[1\]: scheme must be redis: or rediss:/)
  throwsWith({ nodes: ['redis://127.0.0.1:7000', 'rediss://127.0.0.1:7001'] }, TypeError, /^cluster\.nodes\[1\]: every node must use the same scheme/)
  throwsWith({ nodes: [] }, TypeError, /^cluster\.nodes: must be a non-empty array/)
  throwsWith({ nodes: ['redis://h:1/3'] }, TypeError, /^cluster\.nodes\[0\]: a cluster has only database 0/)
  throwsWith({ nodes: ['redis://h:1'], keyPrefix: 'a{b}' }, TypeError, /^cluster\.keyPrefix: must not contain/)
  throwsWith({ nodes: ['redis://h:1'], leaseMs: 10 }, RangeError, /^cluster\.leaseMs: must be in \[100, /)
  throwsWith({ nodes: ['redis://h:1'], commandTimeoutMs: 1.5 }, TypeError, /^cluster\.commandTimeoutMs: must be an integer/)
  throwsWith({ nodes: ['redis://h:1'], secret: 'short' }, RangeError, /^cluster\.secret: must be at least 16 bytes/)
  throwsWith({ nodes: ['redis://h:1'], passwd: 'x' }, TypeError, /^cluster\.passwd: unknown option/)
})

test('a plain (non-cluster) redis-server: a ClusterError that says so', async () => {
  const server = await startRedisServer({})
  try {
    const store = new RedisClusterBlockStore({ nodes: [server.url], connectTimeoutMs: 3000 })
    const r = await settles(store.init(), SETTLE_BOUND_MS, 'init against a plain server')
    assert.ok(!r.ok && r.error instanceof ClusterError && r.error.code === 'ERR_SLUICE_CLUSTER', String(!r.ok && r.error))
    assert.match((r.error as Error).message, /not a Redis Cluster node/)
    assert.match((r.error as Error).message, new RegExp(`127\\.0\\.0\\.1:${server.port}`))
    await store.close()
  } finally {
    await server.stop()
  }
})

uvuTest('a node nobody listens on: init rejects within connectTimeoutMs; calls before init reject', async () => {
  const store = new RedisClusterBlockStore({ nodes: ['redis://127.0.0.1:1'], connectTimeoutMs: 500 })
  const early = await settles(store.getMany([key('x', 0)]), SETTLE_BOUND_MS, 'getMany before init')
  assert.ok(!early.ok && early.error instanceof ClusterError && /not connected/.test(early.error.message))
  const r = await settles(store.init(), SETTLE_BOUND_MS, 'init against a closed port')
  assert.ok(!r.ok && r.error instanceof ClusterError && r.error.code === 'ERR_SLUICE_CLUSTER', String(!r.ok && r.error))
  await store.close()
})

uvuTest.run()
