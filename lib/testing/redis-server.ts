/**
 * One real `redis-server` process on loopback, for tests and benchmarks of the cluster tier
 * (redis-cluster.ts assembles several into a Redis Cluster). Exported from `sluice/testing`.
 *
 * Each server runs in a temp dir of its own, without persistence, on a free port whose
 * cluster bus port (port + 10000) is free too. It runs under a small shell that kills it
 * when this process's end of a pipe closes, so a test run that is itself killed (the test
 * runner's time limit sends SIGKILL) leaves no server behind; a normal exit kills them too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export interface RedisServerOptions {
  /** Start in cluster mode (`cluster-enabled yes`). Default false. */
  cluster?: boolean
  /** `requirepass` (and `masterauth`, so replicas can sync); default none. */
  password?: string
  /** `cluster-node-timeout` in ms. Default 2000. */
  nodeTimeoutMs?: number
  /** `maxmemory` in bytes; default none (unbounded). */
  maxmemoryBytes?: number
  /** `maxmemory-policy`; default Redis's own (noeviction). */
  maxmemoryPolicy?: string
  /**
   * Also listen with TLS on a port of its own (`tlsUrl`), and speak TLS on the cluster bus.
   * The plain port stays, for the harness's own commands. PEM files. Default: no TLS.
   */
  tls?: { certFile: string; keyFile: string; caFile: string }
}

export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:port` (never with the password). */
  readonly url: string
  /** `rediss://127.0.0.1:tlsPort`, when started with `tls`. */
  readonly tlsUrl: string | undefined
  /** The redis-server's process id. */
  readonly pid: number
  readonly dir: string
  /** Whether the process is still running. */
  readonly running: boolean
  /** Kills the server (SIGKILL) and resolves once it has exited. */
  kill(): Promise<void>
  /** Kills the server and removes its directory. */
  stop(): Promise<void>
}

const START_ATTEMPTS = 5
const READY_TIMEOUT_MS = 10_000
const BUS_PORT_OFFSET = 10_000

/** Why redis-server cannot be started here (not on PATH), or undefined when it can. */
export function redisServerMissing(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 10_000 })
  if (probe.error === undefined && probe.status === 0) return undefined
  return `redis-server is not installed or not on PATH (${probe.error?.message ?? `exit ${probe.status}`}); install it with: apt-get install -y redis-server redis-tools`
}

/** Servers still running, killed and removed synchronously when the process exits. */
const live = new Set<{ pid: number; dir: string }>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const s of live) {
      try {
        process.kill(s.pid, 'SIGKILL')
      } catch {
        // already gone
      }
      rmSync(s.dir, { recursive: true, force: true })
    }
  })
}

/** Starts one redis-server; retries on another port if the chosen one was taken meanwhile. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const missing = redisServerMissing()
  if (missing !== undefined) throw new Error(missing)
  let lastError: unknown
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort(options.cluster === true)
    const tlsPort = options.tls === undefined ? undefined : await freePort(false)
    const dir = await mkdtemp(join(tmpdir(), 'sluice-redis-'))
    try {
      return await launch(port, tlsPort, dir, options)
    } catch (err) {
      lastError = err
      await rm(dir, { recursive: true, force: true })
    }
  }
  throw lastError
}

/**
 * The command line. A password goes into a config file (owner-only, in the server's own
 * directory) rather than onto the command line, where `ps` would show it.
 */
async function serverArgs(port: number, tlsPort: number | undefined, dir: string, options: RedisServerOptions): Promise<string[]> {
  const args: string[] = []
  if (options.password !== undefined) {
    const conf = join(dir, 'auth.conf')
    const quoted = JSON.stringify(options.password)
    await writeFile(conf, `requirepass ${quoted}\nmasterauth ${quoted}\n`, { mode: 0o600 })
    args.push(conf)
  }
  args.push('--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--logfile', join(dir, 'redis.log'))
  args.push('--save', '', '--appendonly', 'no', '--daemonize', 'no')
  if (options.cluster) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'))
    args.push('--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000))
  }
  if (options.maxmemoryBytes !== undefined) args.push('--maxmemory', String(options.maxmemoryBytes))
  if (options.maxmemoryPolicy !== undefined) args.push('--maxmemory-policy', options.maxmemoryPolicy)
  if (options.tls !== undefined && tlsPort !== undefined) {
    const { certFile, keyFile, caFile } = options.tls
    args.push('--tls-port', String(tlsPort), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', caFile)
    args.push('--tls-auth-clients', 'no', '--tls-replication', 'yes')
    if (options.cluster) args.push('--tls-cluster', 'yes')
  }
  return args
}

/*
 * The shell starts redis-server in the background, prints its pid, and kills it when its
 * stdin (our pipe) reaches end of file: when we close it, or when this process dies. The
 * watcher reads a copy of stdin (fd 3) because a background job's own stdin is /dev/null.
 */
const WRAPPER =
  'exec 3<&0; redis-server "$@" & pid=$!; echo "$pid"; ' +
  '(read _ <&3; kill -9 "$pid" 2>/dev/null) & watcher=$!; ' +
  'wait "$pid"; code=$?; kill "$watcher" 2>/dev/null; exit "$code"'

async function launch(port: number, tlsPort: number | undefined, dir: string, options: RedisServerOptions): Promise<RedisServer> {
  const child = spawn('sh', ['-c', WRAPPER, 'sh', ...(await serverArgs(port, tlsPort, dir, options))], { stdio: ['pipe', 'pipe', 'pipe'] })
  // Kept for a failed start (a config error goes to stderr); the shell's "Killed" notices are dropped.
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server wrapper exited (code ${code}) before starting`)))
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(Number(line)))
  })
  const entry = { pid, dir }
  live.add(entry)
  installExitHook()
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
      child.stdin!.end()
      await exited
    }
    live.delete(entry)
  }
  try {
    await waitForPong(port, child)
  } catch (err) {
    await kill()
    const log = await readFile(join(dir, 'redis.log'), 'utf8').catch(() => '')
    throw new Error(`redis-server on port ${port} did not start: ${(err as Error).message}\n${stderr}${log.split('\n').slice(-10).join('\n')}`)
  }
  let stopped: Promise<void> | undefined
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    tlsUrl: tlsPort === undefined ? undefined : `rediss://127.0.0.1:${tlsPort}`,
    pid,
    dir,
    get running() {
      return child.exitCode === null && child.signalCode === null
    },
    kill,
    stop() {
      stopped ??= kill().then(() => rm(dir, { recursive: true, force: true }))
      return stopped
    },
  }
}

/** A port in [20000, 30000) free on loopback, with its cluster bus port free too (below the ephemeral range). */
async function freePort(needBus: boolean): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    if ((await canBind(port)) && (!needBus || (await canBind(port + BUS_PORT_OFFSET)))) return port
  }
  throw new Error('no free loopback port pair found for redis-server')
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** Resolves once the server answers PING (any reply, NOAUTH included); bounded, and fails fast if it exited. */
async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (code ${child.exitCode})`)
    if (await pings(port)) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`no answer within ${READY_TIMEOUT_MS} ms`)
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.length > 0 && (data[0] === 0x2b || data[0] === 0x2d)))
  })
}
