/**
 * The cluster tier's bulk reader (lib/cache/cluster-bulk-reader.ts) against a real
 * three-master Redis Cluster with a password: values of every size come back exact, read
 * into block buffers with room after them; many reads at once on one connection each get
 * their own reply; what it cannot answer (an error reply, a redirection, a refused AUTH, a
 * connection that stalls) resolves undefined, for ioredis to answer, and a connection that
 * failed is opened again. The store counts which path each bulk took.
 */
import { test as uvuTest } from 'uvu'
import * as assert from 'uvu/assert'
import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import net from 'node:net'
import { headerRoom, BLOCK_HEADROOM } from '../lib/block-buffer.js'
import { ClusterBulkReader, type BulkReaderOptions, type BulkReply } from '../lib/cache/cluster-bulk-reader.js'
import { startRedisCluster, type RedisCluster } from '../lib/testing/index.js'
import { clusterSkipReason, clusterTest, key, openStore, rawClient, settles, until } from './support/cluster.js'
import { patternBytes } from './support/data.js'

const skip = clusterSkipReason('cluster-bulk-reader')
const test = clusterTest(skip)
const PASSWORD = 'bulk-reader-password'
const ROOM = 64

let cluster: RedisCluster
let raw: Cluster
const readers: ClusterBulkReader[] = []

function reader(options: Partial<BulkReaderOptions> = {}, client: Pick<Cluster, 'slots'> = raw): ClusterBulkReader {
  const r = new ClusterBulkReader(client as Cluster, { username: undefined, password: PASSWORD, idleTimeoutMs: 5000, connectTimeoutMs: 5000, maxValueBytes: 8 << 20, reopenAfterMs: 0, ...options })
  readers.push(r)
  return r
}

/** The value in a reply, or a description of what came instead (no multi-MiB diffs). */
function valueOf(reply: BulkReply): Buffer | string {
  if (reply === undefined) return 'undefined (left to ioredis)'
  if (reply === null) return 'null'
  return reply.block.subarray(0, reply.length)
}

function sameBytes(reply: BulkReply, expected: Uint8Array, what: string): void {
  const got = valueOf(reply)
  assert.ok(typeof got !== 'string' && got.equals(expected), `${what}: got ${typeof got === 'string' ? got : `${got.length} bytes`}, want ${expected.length} exact bytes`)
}

uvuTest.before(async () => {
  if (skip) return
  cluster = await startRedisCluster({ masters: 3, password: PASSWORD })
  raw = await rawClient(cluster, PASSWORD)
})

uvuTest.after(async () => {
  for (const r of readers) r.close()
  raw?.disconnect()
  await cluster?.stop()
})

test('values of every size, from every master, come back exact in blocks with room after them; a missing key is null', async () => {
  const sizes = [0, 1, 2, 100, 65_534, 65_536, 65_537, 200_000, (4 << 20) - 64, 5_000_000]
  const entries = sizes.flatMap((size, i) => [0, 1, 2].map((m) => ({ name: `size{${i}-${m}}`, bytes: patternBytes(size, `size-${i}-${m}`) })))
  for (const e of entries) await raw.set(e.name, Buffer.from(e.bytes))
  const masters = new Set(entries.map((e) => raw.slots[calculateSlot(e.name)]![0]))
  assert.is(masters.size, 3, 'the keys spread over the three masters')
  const r = reader()
  const replies = await Promise.all(entries.map((e) => r.read(['GET', e.name], ROOM)))
  replies.forEach((reply, i) => {
    sameBytes(reply, entries[i]!.bytes, entries[i]!.name)
    const { block, length } = reply as { block: Buffer; length: number }
    assert.is(block.length, length + ROOM, 'room after the value')
    assert.ok(headerRoom(block, BLOCK_HEADROOM) !== undefined, 'a block from allocBlock: the disk tier can write its header in front')
  })
  assert.is(await r.read(['GET', 'no-such{key}'], ROOM), null)
  const mine = Buffer.alloc(200_000 + ROOM)
  const into = await r.read(['GET', entries[21]!.name], ROOM, mine)
  assert.ok(into !== null && into !== undefined && into.block === mine, "a value that fits is read into the caller's buffer")
  sameBytes(into, entries[21]!.bytes, 'into a given buffer')
  const tooSmall = Buffer.alloc(100)
  const fresh = await r.read(['GET', entries[21]!.name], ROOM, tooSmall)
  assert.ok(fresh !== null && fresh !== undefined && fresh.block !== tooSmall, 'one that does not fit gets a new block')
  sameBytes(fresh, entries[21]!.bytes, 'into a new block')
})

test('many reads at once on one connection are matched to their own replies, GETEX included', async () => {
  // One hash tag: one slot, one master, one connection, the replies back to back.
  const entries = Array.from({ length: 60 }, (_, i) => ({ name: `{pipe}:${i}`, bytes: patternBytes((i * 7919) % 150_000, `pipe-${i}`) }))
  for (const e of entries) await raw.set(e.name, Buffer.from(e.bytes))
  const r = reader()
  const replies = await Promise.all(entries.map((e, i) => r.read(i % 2 === 0 ? ['GET', e.name] : ['GETEX', e.name, 'PX', '60000'], ROOM)))
  replies.forEach((reply, i) => sameBytes(reply, entries[i]!.bytes, entries[i]!.name))
  assert.ok(Number(await raw.pttl(entries[1]!.name)) > 0, 'GETEX set the expiry')
})

test('an error reply resolves undefined and the connection goes on', async () => {
  await raw.rpush('{err}:list', 'x')
  await raw.set('{err}:value', 'still here')
  const r = reader()
  const [wrong, right] = await Promise.all([r.read(['GET', '{err}:list'], ROOM), r.read(['GET', '{err}:value'], ROOM)])
  assert.is(wrong, undefined, 'WRONGTYPE is left to ioredis')
  sameBytes(right, Buffer.from('still here'), 'the read after it, on the same connection')
})

test('a value above maxValueBytes resolves undefined without being read; the next read opens a new connection', async () => {
  await raw.set('{big}:a', Buffer.from(patternBytes(300_000, 'big')))
  const r = reader({ maxValueBytes: 200_000 })
  assert.is(await r.read(['GET', '{big}:a'], ROOM), undefined)
  await raw.set('{big}:b', 'small')
  sameBytes(await r.read(['GET', '{big}:b'], ROOM), Buffer.from('small'), 'after it')
})

test('a key asked of the wrong master (MOVED) resolves undefined', async () => {
  await raw.set('moved{a}', 'a')
  const home = raw.slots[calculateSlot('moved{a}')]![0]!
  const elsewhere = raw.slots.find((nodes) => nodes[0] !== home)![0]!
  // Ioredis's slot map as it would be before a resharding it has not seen yet.
  const stale = { slots: raw.slots.map(() => [elsewhere]) }
  const r = reader({}, stale)
  assert.is(await r.read(['GET', 'moved{a}'], ROOM), undefined)
})

test('a refused AUTH leaves every read to ioredis; without a password there is no AUTH to refuse', async () => {
  await raw.set('auth{a}', 'a')
  assert.is(await reader({ password: 'not-the-password' }).read(['GET', 'auth{a}'], ROOM), undefined)
  assert.is(await reader({ password: undefined }).read(['GET', 'auth{a}'], ROOM), undefined, 'NOAUTH on a server that wants one')
  sameBytes(await reader().read(['GET', 'auth{a}'], ROOM), Buffer.from('a'), 'with the password')
})

test('a connection that stalls past idleTimeoutMs resolves its reads undefined; one that was killed is opened again', async () => {
  await raw.set('stall{a}', 'a')
  const port = Number(raw.slots[calculateSlot('stall{a}')]![0]!.split(':')[1])
  const r = reader({ idleTimeoutMs: 300 })
  sameBytes(await r.read(['GET', 'stall{a}'], ROOM), Buffer.from('a'), 'before the pause')
  await cluster.command(port, 'CLIENT', 'PAUSE', '3000', 'ALL')
  try {
    assert.is(await r.read(['GET', 'stall{a}'], ROOM), undefined, 'a paused master: the read ends, undefined')
  } finally {
    await cluster.command(port, 'CLIENT', 'UNPAUSE')
  }
  sameBytes(await r.read(['GET', 'stall{a}'], ROOM), Buffer.from('a'), 'a new connection after the stalled one')
  await cluster.command(port, 'CLIENT', 'KILL', 'TYPE', 'normal')
  // The kill reaches this process's socket when it does; reads until then are left to ioredis.
  await until(async () => valueOf(await r.read(['GET', 'stall{a}'], ROOM)) instanceof Buffer, 5000, 'a read on a new connection after the kill')
})

/**
 * A relay on loopback to one real master that passes the server's first `passBytes` bytes
 * to the client and then holds the rest back: a reply stopped mid-value.
 */
async function stallingRelay(port: number, passBytes: number): Promise<{ node: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
    }
    client.pipe(upstream)
    let passed = 0
    upstream.on('data', (chunk: Buffer) => {
      const pass = chunk.subarray(0, Math.max(0, passBytes - passed))
      passed += chunk.length
      if (pass.length > 0) client.write(pass)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    node: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

test('a reply that stops mid-value resolves undefined once idleTimeoutMs passes without a byte', async () => {
  await raw.set('midway{a}', Buffer.from(patternBytes(1 << 20, 'midway')))
  const port = Number(raw.slots[calculateSlot('midway{a}')]![0]!.split(':')[1])
  // +OK for AUTH (5 bytes), then the value's header line and 100 KB of its megabyte.
  const relay = await stallingRelay(port, 5 + 100_000)
  try {
    const r = reader({ idleTimeoutMs: 300 }, { slots: raw.slots.map(() => [relay.node]) })
    const settled = await settles(r.read(['GET', 'midway{a}'], ROOM), 5000, 'a read whose reply stopped')
    assert.equal(settled, { ok: true, value: undefined })
  } finally {
    await relay.close()
  }
})

/** A server on loopback that accepts connections, counts them, and answers every chunk it receives with `reply` (or never). */
async function fakeServer(reply?: string): Promise<{ node: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((s) => {
    connections++
    sockets.add(s)
    s.on('error', () => {})
    if (reply !== undefined) s.on('data', () => s.write(reply))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    node: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

test('a server that never answers fails its reads after idleTimeoutMs even while new reads keep coming', async () => {
  const silent = await fakeServer()
  const r = reader({ idleTimeoutMs: 300, password: undefined }, { slots: raw.slots.map(() => [silent.node]) })
  // Every write would push back a socket timeout; the reader's own watchdog counts bytes received only.
  const more = setInterval(() => void r.read(['GET', 'silent{a}'], ROOM), 50)
  try {
    const settled = await settles(r.read(['GET', 'silent{a}'], ROOM), 5000, 'the first read on a silent server')
    assert.equal(settled, { ok: true, value: undefined })
  } finally {
    clearInterval(more)
    await silent.close()
  }
})

test('close() resolves the reads still waiting with undefined', async () => {
  const silent = await fakeServer()
  const r = reader({ password: undefined }, { slots: raw.slots.map(() => [silent.node]) })
  const pending = r.read(['GET', 'waiting{a}'], ROOM)
  r.close()
  const settled = await settles(pending, 2000, 'a read pending at close')
  assert.equal(settled, { ok: true, value: undefined })
  await silent.close()
})

test('a connection that failed is not opened again within reopenAfterMs, however many reads come', async () => {
  const refusing = await fakeServer('-WRONGPASS invalid username-password pair\r\n')
  const r = reader({ reopenAfterMs: 60_000 }, { slots: raw.slots.map(() => [refusing.node]) })
  try {
    for (let i = 0; i < 200; i++) assert.is(await r.read(['GET', 'refused{a}'], ROOM), undefined)
    assert.is(refusing.connections(), 1, 'one connection, refused, then none until the delay has passed')
  } finally {
    await refusing.close()
  }
})

test('the store reads bulks through it and counts them', async () => {
  const s = await openStore(cluster, { password: PASSWORD, keyPrefix: 'count:' })
  try {
    const keys = Array.from({ length: 6 }, (_, i) => key('bulk-count', i))
    const blocks = keys.map((_, i) => patternBytes(i === 0 ? 4 << 20 : 1000 + i, `count-${i}`))
    for (const [i, k] of keys.entries()) assert.ok(await s.put(k, blocks[i]!))
    const got = await s.getMany(keys)
    got.forEach((b, i) => assert.ok(b !== undefined && Buffer.from(b).equals(blocks[i]!), `block ${i} intact`))
    const counts = s.stats().cluster!
    assert.is(counts.directReads, 6, 'every bulk read directly')
    assert.is(counts.clientReads, 0)
  } finally {
    await s.close()
  }
})

test.run()
