/**
 * A real Redis Cluster on loopback for tests and benchmarks of the cluster tier: `masters`
 * redis-server processes (redis-server.ts), optionally with replicas, joined by
 * `redis-cli --cluster create` and waited for (bounded) until every node reports
 * `cluster_state:ok`. Exported from `sluice/testing`.
 *
 * Faults are real: `killMaster` SIGKILLs a master's process, `stop` kills every node. With
 * replicas, a killed master's replica is promoted after the node timeout (2 s by default),
 * which `waitForFailover` waits for.
 */
import { spawn, spawnSync } from 'node:child_process'
import { Redis } from 'ioredis'
import { redisServerMissing, startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.js'

export { startRedisServer, redisServerMissing, type RedisServer, type RedisServerOptions } from './redis-server.js'

export interface RedisClusterOptions {
  /** Masters, each owning an equal share of the 16384 slots. Default 3. */
  masters?: number
  /** Replicas per master, so a failover can be tested. Default 0. */
  replicasPerMaster?: number
  /** Every node's `requirepass`; default none. */
  password?: string
  /** Each node's `maxmemory` in bytes; default unbounded. */
  maxmemoryBytes?: number
  /** Each node's `maxmemory-policy`; default Redis's own (noeviction). */
  maxmemoryPolicy?: string
  /** `cluster-node-timeout` in ms. Default 2000. */
  nodeTimeoutMs?: number
  /** Bound on forming the cluster (servers up, joined, state ok, replicas synced), in ms. Default 30000. */
  startTimeoutMs?: number
  /** TLS for clients and the cluster bus (PEM files); `tlsNodes` then lists the TLS URLs. Default none. */
  tls?: RedisServerOptions['tls']
}

export interface RedisCluster {
  /** The masters' URLs, `redis://127.0.0.1:port` (seed nodes for a client; no password). */
  readonly nodes: string[]
  /** The masters' TLS URLs, `rediss://127.0.0.1:port`, when started with `tls`; else empty. */
  readonly tlsNodes: string[]
  /** The masters as started, in `nodes` order. */
  readonly masters: RedisServer[]
  /** Every replica. */
  readonly replicas: RedisServer[]
  /** SIGKILLs master `i` (of `masters`) and resolves once it has exited. */
  killMaster(i: number): Promise<void>
  /** Resolves once every running node reports `cluster_state:<state>`; rejects after `timeoutMs`. */
  waitForState(state: 'ok' | 'fail', timeoutMs?: number): Promise<void>
  /** Resolves with the replica of master `i` once it has been promoted (after `killMaster(i)`); rejects after `timeoutMs`. */
  waitForFailover(i: number, timeoutMs?: number): Promise<RedisServer>
  /** Runs one command on one node (by port) over a fresh connection; resolves to its reply. */
  command(port: number, ...args: (string | number | Buffer)[]): Promise<unknown>
  /** Kills every node and removes their directories (idempotent). */
  stop(): Promise<void>
}

/** Why a Redis Cluster cannot be started here, or undefined when it can. */
export function redisClusterMissing(): string | undefined {
  return redisServerMissing() ?? redisCliMissing()
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masterCount = options.masters ?? 3
  const replicasPerMaster = options.replicasPerMaster ?? 0
  if (!Number.isInteger(masterCount) || masterCount < 3) throw new RangeError(`masters must be an integer >= 3 (Redis Cluster's minimum), got ${masterCount}`)
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) throw new RangeError(`replicasPerMaster must be a non-negative integer, got ${replicasPerMaster}`)
  const missing = redisClusterMissing()
  if (missing !== undefined) throw new Error(missing)
  const { password, maxmemoryBytes, maxmemoryPolicy, nodeTimeoutMs, tls } = options
  const serverOptions: RedisServerOptions = { password, maxmemoryBytes, maxmemoryPolicy, nodeTimeoutMs, tls, cluster: true }
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000)
  const remaining = () => Math.max(1, deadline - Date.now())
  const servers: RedisServer[] = []
  const stopAll = () => Promise.all(servers.map((s) => s.stop())).then(() => {})
  try {
    const started = await Promise.allSettled(
      Array.from({ length: masterCount * (1 + replicasPerMaster) }, () => startRedisServer(serverOptions)),
    )
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    await createCluster(servers, replicasPerMaster, password, remaining())
    const admin = (port: number, ...args: (string | number | Buffer)[]) => nodeCommand(port, password, args)
    const cluster = makeCluster(servers, admin, await roles(servers, admin, masterCount * replicasPerMaster, remaining()))
    await cluster.waitForState('ok', remaining())
    if (replicasPerMaster > 0) await waitForReplicaSync(cluster.replicas, admin, remaining())
    return cluster
  } catch (err) {
    await stopAll()
    throw err
  }
}

type Admin = (port: number, ...args: (string | number | Buffer)[]) => Promise<unknown>

function makeCluster(servers: RedisServer[], admin: Admin, replicaOf: Map<number, number | undefined>): RedisCluster {
  const masters = servers.filter((s) => replicaOf.get(s.port) === undefined).sort((a, b) => a.port - b.port)
  const replicas = servers.filter((s) => replicaOf.get(s.port) !== undefined)
  let stopped: Promise<void> | undefined
  return {
    nodes: masters.map((s) => s.url),
    tlsNodes: masters.flatMap((s) => (s.tlsUrl === undefined ? [] : [s.tlsUrl])),
    masters,
    replicas,
    async killMaster(i) {
      const master = masters[i]
      if (master === undefined) throw new RangeError(`no master ${i} (there are ${masters.length})`)
      await master.kill()
    },
    async waitForState(state, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs
      let last = ''
      for (;;) {
        const running = servers.filter((s) => s.running)
        const states = await Promise.all(running.map((s) => admin(s.port, 'CLUSTER', 'INFO').then(String, (e: Error) => e.message)))
        last = states.map((info, i) => `${running[i]!.port}: ${/cluster_state:(\w+)/.exec(info)?.[1] ?? info}`).join(', ')
        if (running.length > 0 && states.every((info) => info.includes(`cluster_state:${state}`))) return
        if (Date.now() >= deadline) throw new Error(`cluster not in state ${state} within ${timeoutMs} ms (${last})`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async waitForFailover(i, timeoutMs = 30_000) {
      const master = masters[i]
      if (master === undefined) throw new RangeError(`no master ${i} (there are ${masters.length})`)
      const candidates = replicas.filter((r) => replicaOf.get(r.port) === master.port)
      if (candidates.length === 0) throw new Error(`master ${i} has no replica to fail over to`)
      const deadline = Date.now() + timeoutMs
      for (;;) {
        for (const r of candidates) {
          if (r.running && /^role:master/m.test(String(await admin(r.port, 'INFO', 'replication').catch(() => '')))) return r
        }
        if (Date.now() >= deadline) throw new Error(`no replica of master ${i} promoted within ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    command: admin,
    stop() {
      stopped ??= Promise.all(servers.map((s) => s.stop())).then(() => {})
      return stopped
    },
  }
}

/** `redis-cli --cluster create`, the password through the environment (never on a command line). */
async function createCluster(servers: RedisServer[], replicas: number, password: string | undefined, timeoutMs: number): Promise<void> {
  const args = ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']
  const env = { ...process.env, ...(password === undefined ? {} : { REDISCLI_AUTH: password }) }
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('redis-cli', args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', reject)
    child.once('exit', (c) => {
      clearTimeout(timer)
      resolve({ code: c, output })
    })
  })
  if (code !== 0) throw new Error(`redis-cli --cluster create failed (exit ${code}):\n${output.split('\n').slice(-15).join('\n')}`)
}

/**
 * Which started server is a master and which a replica (redis-cli chooses), each node asked
 * about itself: another node's view lags while the replicas are being attached.
 */
async function roles(servers: RedisServer[], admin: Admin, expectedReplicas: number, timeoutMs: number): Promise<Map<number, number | undefined>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const out = new Map<number, number | undefined>()
    for (const s of servers) out.set(s.port, await masterOf(s.port, admin))
    if ([...out.values()].filter((m) => m !== undefined).length === expectedReplicas) return out
    if (Date.now() >= deadline) throw new Error(`replicas not attached within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The port of the master a node replicates, or undefined for a master. */
async function masterOf(port: number, admin: Admin): Promise<number | undefined> {
  const info = String(await admin(port, 'INFO', 'replication'))
  if (!/^role:slave/m.test(info)) return undefined
  return Number(/^master_port:(\d+)/m.exec(info)?.[1])
}

async function waitForReplicaSync(replicas: RedisServer[], admin: Admin, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const replica of replicas) {
    for (;;) {
      const info = String(await admin(replica.port, 'INFO', 'replication').catch((e: Error) => e.message))
      if (info.includes('master_link_status:up')) break
      if (Date.now() >= deadline) throw new Error(`replica ${replica.port} did not sync with its master within ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

/** One command over a fresh connection that never retries or queues (a dead node fails fast). */
async function nodeCommand(port: number, password: string | undefined, args: (string | number | Buffer)[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    const [name, ...rest] = args
    return await client.call(String(name), ...rest)
  } finally {
    client.disconnect()
  }
}

function redisCliMissing(): string | undefined {
  const probe = spawnSync('redis-cli', ['--version'], { timeout: 10_000 })
  if (probe.error === undefined && probe.status === 0) return undefined
  return 'redis-cli is not installed or not on PATH; install it with: apt-get install -y redis-tools'
}
