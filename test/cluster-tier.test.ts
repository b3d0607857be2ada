/**
 * The cluster tier end to end: BlockReaders in separate processes, each with a cache
 * directory of its own (separate nodes), share a real 3-master Redis Cluster on loopback and
 * a real S3 server. Together they fetch each block from S3 about once; a new node reads the
 * dataset with no GET at all; a value damaged inside Redis is never served; a master killed
 * mid-read and a cluster stopped outright cost no error and no wrong byte; a wrong password
 * is an error with its code, without the password in it.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { inspect, promisify } from 'node:util'
import { BlockReader, type BlockReaderOptions, type ReaderStats, type TierStats } from '../lib/index.js'
import { redisClusterMissing, startRedisCluster, type RedisCluster } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { announceSkip, testUnless } from './support/skip.js'
import { startTestS3, type TestS3 } from './support/s3.js'

const run = promisify(execFile)
const CHILD = fileURLToPath(new URL('./support/cluster-child.js', import.meta.url))
const BS = 256 * 1024
const SIZES: Record<string, number> = { a: 3_000_000, b: 2_500_001, c: 1_048_576, d: 900_000 }
const URLS = Object.keys(SIZES).map((k) => `s3://data/${k}`)
const DATASET_BYTES = Object.values(SIZES).reduce((a, b) => a + b, 0)
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const expectedSha = (url: string) => {
  const key = url.replace('s3://data/', '')
  return sha256(patternBytes(SIZES[key]!, key))
}

const missing = announceSkip('cluster-tier', 'the cluster-tier tests', redisClusterMissing())
const it = suite('cluster tier')
const test = testUnless(missing, it)

let s3: TestS3
let redis: RedisCluster
let root: string
let dirs = 0

it.before(async () => {
  if (missing) return
  s3 = await startTestS3(['data'])
  for (const [k, n] of Object.entries(SIZES)) await s3.put('data', k, patternBytes(n, k))
  redis = await startRedisCluster({ masters: 3 })
  root = await mkdtemp(join(tmpdir(), 'sluice-cluster-'))
})
it.after(async () => {
  if (missing) return
  await redis?.stop()
  await s3?.close()
  await rm(root, { recursive: true, force: true })
})

function nodeOptions(prefix: string, extra: Partial<BlockReaderOptions> = {}): BlockReaderOptions {
  return {
    cacheDir: join(root, `node-${dirs++}`),
    blockSize: BS,
    memory: { maxBytes: 0 },
    s3: s3.server.s3,
    cluster: { nodes: redis.nodes, keyPrefix: prefix },
    ...extra,
  }
}

/** A node in a process of its own; checks every object's digest and returns its stats. */
async function node(options: BlockReaderOptions, urls = URLS): Promise<ReaderStats> {
  const r = await run(process.execPath, [CHILD, JSON.stringify(options), ...urls], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  })
  const out = JSON.parse(r.stdout) as { stats: ReaderStats; sha256: Record<string, string> }
  for (const url of urls) assert.is(out.sha256[url], expectedSha(url), `the node read ${url} right`)
  return out.stats
}

const clusterOf = (s: ReaderStats): TierStats => s.tiers.find((t) => t.name === 'cluster')!

async function readAll(reader: BlockReader): Promise<void> {
  for (const url of URLS) {
    const h = await reader.open(url)
    assert.is(sha256(await h.read(0, h.size)), expectedSha(url), `${url} read right`)
    await h.close()
  }
}

test('three nodes reading at once fetch the dataset from S3 about once, and a fourth fetches nothing', async () => {
  const prefix = 'together:'
  const stats = await Promise.all([node(nodeOptions(prefix)), node(nodeOptions(prefix)), node(nodeOptions(prefix))])
  const fromLake = stats.reduce((n, s) => n + s.source.bytes, 0)
  assert.ok(fromLake >= DATASET_BYTES, 'every byte came from somewhere')
  assert.ok(fromLake <= 1.1 * DATASET_BYTES, `bytes from S3 per dataset byte: ${(fromLake / DATASET_BYTES).toFixed(2)} (at most 1.1)`)
  const hits = stats.reduce((n, s) => n + clusterOf(s).hits, 0)
  assert.ok(hits > 0, 'the nodes read each other\'s blocks from the cluster')

  const fourth = await node(nodeOptions(prefix))
  assert.is(fourth.source.gets, 0, 'a node joining later reads the dataset with no GET')
  assert.is(fourth.source.bytes, 0)
  assert.is(clusterOf(fourth).hits, URLS.reduce((n, url) => n + Math.ceil(SIZES[url.slice(10)]! / BS), 0), 'every block from the cluster')
})

test('a value damaged inside Redis is never served: dropped, counted, fetched again', async () => {
  const prefix = 'damaged:'
  await node(nodeOptions(prefix))
  // Overwrite the last 4 bytes of every value (its payload, none of which is 0xdeadbeef in the
  // pattern data) on the master that holds it.
  let damaged = 0
  for (const node of redis.nodes) {
    const port = Number(new URL(node).port)
    let cursor = '0'
    do {
      const [next, keys] = (await redis.command(port, 'SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [string, string[]]
      cursor = next
      for (const key of keys) {
        if (key.endsWith(':lease')) continue
        // A value is a head and a bulk (cluster-value.ts): damage the bulk where there is one.
        if (!key.endsWith(':data') && keys.includes(`${key}:data`)) continue
        const at = Number(await redis.command(port, 'STRLEN', key)) - 4
        await redis.command(port, 'SETRANGE', key, at, Buffer.from([0xde, 0xad, 0xbe, 0xef]))
        damaged++
      }
    } while (cursor !== '0')
  }
  assert.ok(damaged > 0, 'values were damaged')
  const after = await node(nodeOptions(prefix))
  assert.is(clusterOf(after).hits, 0, 'no damaged value was served')
  assert.ok((clusterOf(after).cluster?.crcFailures ?? 0) >= damaged, `each damaged value was counted (${clusterOf(after).cluster?.crcFailures} of ${damaged})`)
  assert.is(after.source.bytes, DATASET_BYTES, 'and its block fetched from S3 again')
})

test('a dataset larger than a noeviction cluster: part stays resident across epochs, a full cluster is not an error, values expire when idle', async () => {
  const own = await startRedisCluster({ masters: 3, maxmemoryPolicy: 'noeviction' })
  try {
    // Room for about half the dataset above what each master uses empty.
    for (const node of own.nodes) {
      const port = Number(new URL(node).port)
      const info = String(await own.command(port, 'INFO', 'memory'))
      const used = Number(/used_memory:(\d+)/.exec(info)![1])
      await own.command(port, 'CONFIG', 'SET', 'maxmemory', String(used + Math.round(DATASET_BYTES / 2 / 3)))
    }
    const epoch = async (keyPrefix = 'loop:') => {
      const reader = new BlockReader({ blockSize: BS, memory: { maxBytes: 0 }, s3: s3.server.s3, cluster: { nodes: own.nodes, keyPrefix, idleTtlMs: 3_600_000 } })
      try {
        await readAll(reader)
        return reader.stats()
      } finally {
        await reader.close()
      }
    }
    const first = await epoch()
    assert.is(first.source.bytes, DATASET_BYTES)
    const second = await epoch()
    const fromCluster = clusterOf(second).hitBytes
    assert.ok(fromCluster > 0.2 * DATASET_BYTES, `second epoch: ${fromCluster} of ${DATASET_BYTES} bytes from the cluster`)
    assert.is(second.source.bytes + fromCluster, DATASET_BYTES, 'every other byte from the store, none twice')
    for (const s of [first, second]) {
      assert.is(clusterOf(s).errors, 0, 'a full cluster refusing fills and leases is not a tier error')
      assert.ok(clusterOf(s).healthy)
    }
    // A cluster over its maxmemory refuses every write, leases included: the node fetches
    // without one, and that is no tier error either.
    for (const node of own.nodes) await own.command(Number(new URL(node).port), 'CONFIG', 'SET', 'maxmemory', '1')
    const refused = await epoch('refused:')
    assert.is(refused.source.bytes, DATASET_BYTES)
    assert.ok((clusterOf(refused).cluster?.leasesUnavailable ?? 0) > 0, 'the full cluster refused leases, and the node fetched anyway')
    assert.is(clusterOf(refused).errors, 0)
    assert.ok(clusterOf(refused).droppedFills > 0, 'its fills were dropped, counted')
    // Values carry the idle time, renewed by each hit.
    const port = Number(new URL(own.nodes[0]!).port)
    const [, keys] = (await own.command(port, 'SCAN', '0', 'MATCH', 'loop:*', 'COUNT', 1000)) as [string, string[]]
    const value = keys.find((k) => !k.endsWith(':lease'))
    assert.ok(value, 'a value on the first master')
    const ttl = Number(await own.command(port, 'PTTL', value!))
    assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `idle TTL ${ttl} ms`)
  } finally {
    await own.stop()
  }
})

test('killing a master mid-read costs no error and no wrong byte', async () => {
  const own = await startRedisCluster({ masters: 3 })
  try {
    const reader = new BlockReader({ ...nodeOptions('kill:'), cluster: { nodes: own.nodes, keyPrefix: 'kill:', commandTimeoutMs: 500, connectTimeoutMs: 1000 } })
    try {
      const h = await reader.open(URLS[0]!)
      const first = await h.read(0, BS)
      assert.is(first.length, BS)
      await own.killMaster(1)
      await readAll(reader)
      assert.ok(reader.stats().source.bytes > 0)
    } finally {
      await reader.close()
    }
  } finally {
    await own.stop()
  }
})

test('a cluster that stopped is bypassed: reads go to S3, stats say so', async () => {
  const own = await startRedisCluster({ masters: 3 })
  const reader = new BlockReader({ ...nodeOptions('stopped:'), cluster: { nodes: own.nodes, keyPrefix: 'stopped:', commandTimeoutMs: 500, connectTimeoutMs: 1000, maxConsecutiveErrors: 2 } })
  try {
    await reader.ready()
    await own.stop()
    await readAll(reader)
    const cluster = clusterOf(reader.stats())
    assert.ok(cluster.errors > 0, 'the failures were counted')
    assert.is(cluster.healthy, false, 'and the tier is bypassed')
    assert.is(reader.stats().source.bytes, DATASET_BYTES)
  } finally {
    await reader.close()
  }
})

test('a wrong password is ERR_SLUICE_CLUSTER, and the password appears nowhere in the error', async () => {
  const own = await startRedisCluster({ masters: 3, password: 'right-horse-battery' })
  const secret = 'wrong-staple-9f3a'
  const reader = new BlockReader({ ...nodeOptions('auth:'), cluster: { nodes: own.nodes, password: secret, keyPrefix: 'auth:' } })
  try {
    const err = await reader.ready().then(
      () => undefined,
      (e: unknown) => e,
    )
    assert.ok(err instanceof Error, 'ready() rejects')
    assert.is((err as { code?: string }).code, 'ERR_SLUICE_CLUSTER')
    assert.match((err as Error).message, /auth|password|WRONGPASS|NOAUTH/i)
    assert.not.match(inspect(err, { depth: 10 }), secret, 'not in the inspected error, its stack or its cause')
  } finally {
    await reader.close().catch(() => {})
    await own.stop()
  }
})

test('the right password works', async () => {
  const own = await startRedisCluster({ masters: 3, password: 'right-horse-battery' })
  const reader = new BlockReader({ ...nodeOptions('authok:'), cluster: { nodes: own.nodes, password: 'right-horse-battery', keyPrefix: 'authok:' } })
  try {
    await readAll(reader)
    assert.is(clusterOf(reader.stats()).healthy, true)
    assert.ok((clusterOf(reader.stats()).cluster?.leasesWon ?? 0) > 0, 'this node filled the cluster')
  } finally {
    await reader.close()
    await own.stop()
  }
})

test('a Redis ACL user: the right user and password work, a wrong user is ERR_SLUICE_CLUSTER', async () => {
  const own = await startRedisCluster({ masters: 3, password: 'admin-pass-31' })
  try {
    // ACL users are per node: give every master the same one, as an operator would.
    for (const node of own.nodes) {
      await own.command(Number(new URL(node).port), 'ACL', 'SETUSER', 'sluice-node', 'on', '>node-pass-62', '~*', '&*', '+@all')
    }
    const reader = new BlockReader({ ...nodeOptions('acl:'), cluster: { nodes: own.nodes, username: 'sluice-node', password: 'node-pass-62', keyPrefix: 'acl:' } })
    try {
      await readAll(reader)
      const cluster = clusterOf(reader.stats())
      assert.is(cluster.errors, 0)
      assert.ok((cluster.cluster?.leasesWon ?? 0) > 0, 'the ACL user filled the cluster')
    } finally {
      await reader.close()
    }
    const stranger = new BlockReader({ ...nodeOptions('acl:'), cluster: { nodes: own.nodes, username: 'nobody', password: 'node-pass-62', keyPrefix: 'acl:' } })
    try {
      const err = await stranger.ready().then(() => undefined, (e: unknown) => e)
      assert.is((err as { code?: string } | undefined)?.code, 'ERR_SLUICE_CLUSTER')
      assert.match((err as Error).message, /authentication failed/)
      assert.not.match(inspect(err, { depth: 10 }), 'node-pass-62')
    } finally {
      await stranger.close().catch(() => {})
    }
  } finally {
    await own.stop()
  }
})

const noOpenssl = announceSkip('cluster-tier', 'the TLS cluster test', missing ?? opensslMissing())
testUnless(noOpenssl, it)('rediss:// with the cluster CA: reads and fills over TLS; without the CA the tier is not used, and says why', async () => {
  const dir = join(root, 'tls')
  await mkdir(dir, { recursive: true })
  const tls = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), caFile: join(dir, 'cert.pem') }
  // One self-signed certificate for 127.0.0.1 serves as every node's and as the CA.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', tls.keyFile, '-out', tls.certFile], { stdio: 'ignore' })
  const own = await startRedisCluster({ masters: 3, tls })
  try {
    assert.ok(own.tlsNodes.every((n) => n.startsWith('rediss://')))
    const reader = new BlockReader({ ...nodeOptions('tls:'), cluster: { nodes: own.tlsNodes, tlsCaFile: tls.caFile, keyPrefix: 'tls:' } })
    try {
      await readAll(reader)
      const cluster = clusterOf(reader.stats())
      assert.is(cluster.errors, 0, cluster.lastError)
      assert.ok((cluster.cluster?.leasesWon ?? 0) > 0, 'filled over TLS')
      assert.is(cluster.cluster?.directReads, 0, 'the bulk reader speaks no TLS: ioredis reads every bulk')
      assert.ok((cluster.cluster?.clientReads ?? 0) > 0)
    } finally {
      await reader.close()
    }
    const untrusting = new BlockReader({ ...nodeOptions('tls:'), cluster: { nodes: own.tlsNodes, keyPrefix: 'tls:', connectTimeoutMs: 1000 } })
    try {
      await readAll(untrusting)
      const cluster = clusterOf(untrusting.stats())
      assert.is(cluster.healthy, false, 'a cluster whose certificate is not trusted is not used')
      assert.is(cluster.hits, 0)
      assert.is(untrusting.stats().source.bytes, DATASET_BYTES)
    } finally {
      await untrusting.close()
    }
  } finally {
    await own.stop()
  }
})

function opensslMissing(): string | undefined {
  const probe = spawnSync('openssl', ['version'], { timeout: 10_000 })
  return probe.error === undefined && probe.status === 0 ? undefined : 'openssl is not installed (apt-get install -y openssl)'
}

it.run()
