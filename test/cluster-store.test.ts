/**
 * The cluster tier against a real three-master Redis Cluster on loopback (lib/testing):
 * blocks round-trip across every master, a value damaged or forged inside Redis is never
 * served, fill leases give each block to exactly one node and hand its bytes to the others,
 * a cluster that is out of memory declines fills, and a wrong password is an error that never
 * shows it. Faults (a master killed, the cluster stopped, a failover) and the other
 * configuration errors are in cluster-store-faults.test.ts.
 */
import { test as uvuTest } from 'uvu'
import * as assert from 'uvu/assert'
import type { Cluster } from 'ioredis'
import { inspect } from 'node:util'
import { AbortError, ClusterError, RedisClusterBlockStore } from '../lib/index.js'
import { startRedisCluster, type RedisCluster } from '../lib/testing/index.js'
import { clusterSkipReason, clusterTest, key, openStore, rawClient, settles, until } from './support/cluster.js'
import { patternBytes } from './support/data.js'

const skip = clusterSkipReason('cluster-store')
const test = clusterTest(skip)
const PASSWORD = 'cluster-test-password'
const MiB = 1 << 20

let cluster: RedisCluster
let raw: Cluster
const stores: RedisClusterBlockStore[] = []

async function store(options: Parameters<typeof openStore>[1] = {}): Promise<RedisClusterBlockStore> {
  const s = await openStore(cluster, { password: PASSWORD, ...options })
  stores.push(s)
  return s
}

/** Which blocks were found (no multi-MiB diff when an assertion fails). */
function found(blocks: (Uint8Array | undefined)[]): boolean[] {
  return blocks.map((b) => b !== undefined)
}

/** The value key of block `k` under `prefix`, as the store names it. */
function valueKey(prefix: string, k: Uint8Array): string {
  return `${prefix}{${Buffer.from(k).toString('hex')}}`
}

uvuTest.before(async () => {
  if (skip) return
  cluster = await startRedisCluster({ masters: 3, password: PASSWORD })
  raw = await rawClient(cluster, PASSWORD)
})

uvuTest.after(async () => {
  for (const s of stores) await s.close()
  raw?.disconnect()
  await cluster?.stop()
})

test('put/getMany round trip: 4 MiB and small blocks, spread over every master, views of exact bytes', async () => {
  const s = await store({ keyPrefix: 'rt:' })
  const keys = Array.from({ length: 48 }, (_, i) => key('round-trip', i))
  const blocks = keys.map((_, i) => patternBytes(i % 8 === 0 ? 4 * MiB : 100 + i * 37, `rt-${i}`))
  assert.equal(await Promise.all(keys.map((k, i) => s.put(k, blocks[i]!))), keys.map(() => true))
  const got = await s.getMany(keys)
  got.forEach((block, i) => assert.ok(block !== undefined && Buffer.from(block).equals(blocks[i]!), `block ${i} comes back intact`))
  for (const m of cluster.masters) {
    const [, names] = (await cluster.command(m.port, 'SCAN', '0', 'MATCH', 'rt:*', 'COUNT', '10000')) as [string, string[]]
    assert.ok(names.length > 0, `master ${m.port} holds some of the blocks`)
  }
  const absent = await s.getMany([key('round-trip', 1000)])
  assert.equal(absent, [undefined])
  // A remote tier never answers synchronously.
  assert.is(s.getSync(keys[0]!), undefined)
  assert.is(s.has(keys[0]!), false)
  assert.is(s.copyInto(keys[0]!, new Uint8Array(10), 0, 0, 10, blocks[0]!.length), false)
  const stats = s.stats()
  assert.is(stats.name, 'cluster')
  assert.is(stats.hits, 48)
  assert.is(stats.misses, 1)
  assert.is(stats.hitBytes, blocks.reduce((n, b) => n + b.length, 0))
})

test('delete, deletePrefix and clear remove what they name, across masters', async () => {
  const s = await store({ keyPrefix: 'del:' })
  const keys = Array.from({ length: 30 }, (_, i) => key('del-a', i))
  const other = key('del-b', 0)
  for (const k of [...keys, other]) assert.ok(await s.put(k, patternBytes(64, 'd')))
  assert.is(await s.delete(keys[0]!), true)
  assert.is(await s.delete(keys[0]!), false)
  assert.is(await s.deletePrefix(keys[1]!.subarray(0, 16)), 29)
  assert.equal(found(await s.getMany([keys[5]!, other])), [false, true])
  const elsewhere = await store({ keyPrefix: 'keep:' })
  assert.ok(await elsewhere.put(other, patternBytes(64, 'k')))
  await s.clear()
  assert.equal(found(await s.getMany([other])), [false], 'clear empties its own prefix')
  assert.ok((await elsewhere.getMany([other]))[0] !== undefined, 'and only its own prefix')
})

test('a value damaged inside Redis (SETRANGE) is never served, is deleted and counted', async () => {
  const s = await store({ keyPrefix: 'crc:' })
  const data = key('damaged', 0)
  const header = key('damaged', 1)
  const bytes = patternBytes(4 * MiB, 'crc')
  assert.ok(await s.put(data, bytes))
  assert.ok(await s.put(header, bytes))
  // One byte in the middle of the data, and one byte of the block key in the header.
  await raw.setrange(valueKey('crc:', data), 36 + 2 * MiB, 'X')
  await raw.setrange(valueKey('crc:', header), 20, 'X')
  assert.equal(found(await s.getMany([data, header])), [false, false])
  assert.is(s.stats().cluster!.crcFailures, 2)
  assert.is(s.stats().misses, 2)
  await until(async () => (await raw.exists(valueKey('crc:', data))) + (await raw.exists(valueKey('crc:', header))) === 0, 5000, 'the damaged values to be deleted')
  // A fresh put serves again.
  assert.ok(await s.put(data, bytes))
  assert.ok(Buffer.from((await s.getMany([data]))[0]!).equals(bytes))
})

test('a value moved to another block key is refused (the header names its key)', async () => {
  const s = await store({ keyPrefix: 'mv:' })
  const a = key('moved', 0)
  const b = key('moved', 1)
  assert.ok(await s.put(a, patternBytes(1000, 'a')))
  await raw.set(valueKey('mv:', b), (await raw.getBuffer(valueKey('mv:', a)))!)
  assert.equal(found(await s.getMany([b])), [false])
  assert.is(s.stats().cluster!.crcFailures, 1)
})

test('with a secret, values written without it or with another one are refused, deleted and counted', async () => {
  const secret = 'a-secret-of-at-least-16-bytes'
  const signed = await store({ keyPrefix: 'hmac:', secret })
  const unsigned = await store({ keyPrefix: 'hmac:' })
  const otherSecret = await store({ keyPrefix: 'hmac:', secret: 'another-secret-of-16-bytes' })
  const [k1, k2, k3] = [key('hmac', 1), key('hmac', 2), key('hmac', 3)]
  const bytes = patternBytes(4 * MiB, 'hmac')
  assert.ok(await unsigned.put(k1, bytes))
  assert.ok(await otherSecret.put(k2, bytes))
  assert.ok(await signed.put(k3, bytes))
  assert.equal(found(await signed.getMany([k1, k2])), [false, false])
  assert.is(signed.stats().cluster!.authFailures, 2)
  assert.is(signed.stats().cluster!.crcFailures, 0)
  await until(async () => (await raw.exists(valueKey('hmac:', k1))) + (await raw.exists(valueKey('hmac:', k2))) === 0, 5000, 'the refused values to be deleted')
  assert.ok(Buffer.from((await signed.getMany([k3]))[0]!).equals(bytes), 'its own values pass')
  // A node without the secret cannot check the HMAC, but still checks the CRC.
  assert.ok(Buffer.from((await unsigned.getMany([k3]))[0]!).equals(bytes))
})

test('leases: of two nodes claiming the same blocks exactly one wins each; the other gets the bytes once they are put', async () => {
  const a = await store({ keyPrefix: 'lease:' })
  const b = await store({ keyPrefix: 'lease:' })
  const keys = Array.from({ length: 8 }, (_, i) => key('lease', i))
  const [wonA, wonB] = await Promise.all([a.leases.acquire(keys), b.leases.acquire(keys)])
  keys.forEach((_, i) => assert.ok(wonA[i] !== wonB[i], `block ${i}: exactly one node holds the lease`))
  // Each node fetches what it won and waits for the rest.
  const blocks = keys.map((_, i) => patternBytes(i === 0 ? 4 * MiB : 1000, `lease-${i}`))
  const waitA = a.leases.waitFor(keys.filter((_, i) => !wonA[i]))
  const waitB = b.leases.waitFor(keys.filter((_, i) => !wonB[i]))
  for (const [s, won] of [[a, wonA], [b, wonB]] as const) {
    const mine = keys.filter((_, i) => won[i])
    await Promise.all(mine.map((k) => s.put(k, blocks[keys.indexOf(k)]!)))
    await s.leases.release(mine)
  }
  const [gotA, gotB] = await Promise.all([waitA, waitB])
  keys.filter((_, i) => !wonA[i]).forEach((k, j) => assert.ok(gotA[j] && Buffer.from(gotA[j]!).equals(blocks[keys.indexOf(k)]!), 'a gets b’s bytes'))
  keys.filter((_, i) => !wonB[i]).forEach((k, j) => assert.ok(gotB[j] && Buffer.from(gotB[j]!).equals(blocks[keys.indexOf(k)]!), 'b gets a’s bytes'))
  const counts = [a.stats().cluster!, b.stats().cluster!]
  assert.is(counts[0]!.leasesWon + counts[1]!.leasesWon, keys.length)
  assert.is(counts[0]!.leasesFilled + counts[1]!.leasesFilled, keys.length)
  // With the values there, nobody needs a lease.
  assert.equal(await b.leases.acquire(keys), keys.map(() => false))
})

test('leases: release by a node that does not hold the lease leaves it in place', async () => {
  const a = await store({ keyPrefix: 'lease2:' })
  const b = await store({ keyPrefix: 'lease2:' })
  const k = key('lease-release', 0)
  assert.equal(await a.leases.acquire([k]), [true])
  await b.leases.release([k])
  assert.equal(await b.leases.acquire([k]), [false], 'still held by a')
  assert.equal(await a.leases.acquire([k]), [true], 'the holder may renew it')
  await a.leases.release([k])
  assert.equal(await b.leases.acquire([k]), [true])
})

test('leases: a lease that expires without a value ends the wait with undefined, within bounds', async () => {
  const holder = await store({ keyPrefix: 'expire:', leaseMs: 300 })
  const waiter = await store({ keyPrefix: 'expire:', maxWaitMs: 10_000 })
  const k = key('expire', 0)
  assert.equal(await holder.leases.acquire([k]), [true])
  const r = await settles(waiter.leases.waitFor([k]), 5000, 'waitFor on an expiring lease')
  assert.equal(r, { ok: true, value: [undefined] })
  assert.is(waiter.stats().cluster!.leasesExpired, 1)
  assert.is(waiter.stats().cluster!.leaseTimeouts, 0)
})

test('leases: a wait longer than maxWaitMs gives up with undefined; an aborted wait rejects', async () => {
  const holder = await store({ keyPrefix: 'maxwait:', leaseMs: 60_000 })
  const waiter = await store({ keyPrefix: 'maxwait:', maxWaitMs: 200 })
  const k = key('maxwait', 0)
  assert.equal(await holder.leases.acquire([k]), [true])
  assert.equal(await settles(waiter.leases.waitFor([k]), 5000, 'waitFor past maxWaitMs'), { ok: true, value: [undefined] })
  assert.is(waiter.stats().cluster!.leaseTimeouts, 1)
  const patient = await store({ keyPrefix: 'maxwait:', maxWaitMs: 60_000 })
  const ac = new AbortController()
  const waiting = settles(patient.leases.waitFor([k], { signal: ac.signal }), 5000, 'an aborted waitFor')
  ac.abort()
  const r = await waiting
  assert.ok(!r.ok && r.error instanceof AbortError && r.error.code === 'ERR_SLUICE_ABORTED', 'rejects with AbortError')
  await holder.leases.release([k])
})

test('a cluster out of memory (noeviction) declines fills: put resolves false and counts a dropped fill', async () => {
  const s = await store({ keyPrefix: 'oom:' })
  const ports = cluster.masters.map((m) => m.port)
  try {
    for (const port of ports) await cluster.command(port, 'CONFIG', 'SET', 'maxmemory', '1')
    assert.is(await s.put(key('oom', 0), patternBytes(4 * MiB, 'oom')), false)
    assert.is(s.stats().droppedFills, 1)
  } finally {
    for (const port of ports) await cluster.command(port, 'CONFIG', 'SET', 'maxmemory', '0')
  }
  assert.is(await s.put(key('oom', 0), patternBytes(1000, 'oom')), true)
})

test('blocks above maxValueBytes are declined, not sent', async () => {
  const s = await store({ keyPrefix: 'big:', maxValueBytes: MiB })
  assert.is(await s.put(key('big', 0), patternBytes(MiB + 1, 'big')), false)
  assert.is(s.stats().droppedFills, 1)
  assert.is(await raw.exists(valueKey('big:', key('big', 0))), 0)
})

test('usage and stats come from the masters without waiting; an aborted getMany rejects', async () => {
  const s = await store({ keyPrefix: 'usage:' })
  const usage = s.usage()
  assert.ok(usage.usedBytes > 0 && usage.maxBytes > 0 && usage.entries > 0, `init read the masters' INFO: ${JSON.stringify(usage)}`)
  const ac = new AbortController()
  ac.abort()
  const r = await settles(s.getMany([key('usage', 0)], { signal: ac.signal }), 5000, 'an aborted getMany')
  assert.ok(!r.ok && r.error instanceof AbortError)
})

test('a wrong password: ClusterError ERR_SLUICE_CLUSTER naming the node, the password nowhere in it', async () => {
  const wrong = 'Wr0ng-Pa55word-Never-Printed'
  const withUrl = cluster.nodes.map((u) => u.replace('redis://', `redis://default:${wrong}@`))
  for (const options of [{ nodes: cluster.nodes, password: wrong }, { nodes: withUrl }]) {
    const bad = new RedisClusterBlockStore({ ...options, connectTimeoutMs: 3000 })
    const r = await settles(bad.init(), 10_000, 'init with a wrong password')
    assert.ok(!r.ok)
    const err = r.error as ClusterError
    assert.instance(err, ClusterError)
    assert.is(err.code, 'ERR_SLUICE_CLUSTER')
    assert.match(err.message, /authentication failed/)
    assert.match(err.message, /127\.0\.0\.1:\d+/)
    const shown = [err.message, err.stack ?? '', inspect(err, { depth: 10 }), inspect(err.cause, { depth: 10 }), JSON.stringify(err)]
    for (const text of shown) assert.not.ok(text.includes(wrong), `the password stays out of: ${text.slice(0, 200)}`)
    await bad.close()
  }
  const good = await store({ keyPrefix: 'auth:' })
  assert.ok(await good.put(key('auth', 0), patternBytes(10, 'a')), 'the right password works')
})

uvuTest.run()
