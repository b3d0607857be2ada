/**
 * The cluster tier's connection: an ioredis `Cluster` configured to fail fast, a bounded
 * `init`, and the one place where the client's errors become ClusterErrors.
 *
 * Fail fast, because the tier is advisory: a read that waits on a sick cluster is slower than
 * a read from object storage. So there is no offline queue (a command while the cluster is
 * not ready rejects at once instead of waiting for a reconnect), every command has a timeout,
 * and every call is bounded again here (`bounded`), because ioredis starts a command's timer
 * only once the command is written to a socket, and a command it parks in its own retry
 * queue (failover, CLUSTERDOWN) has none. The redirection settings still let a MOVED / ASK
 * after a resharding or a failover be followed within that bound; a failover that takes
 * longer than the bound (cluster-node-timeout is 15 s by default) is ridden out by the tiered
 * cache, which bypasses the failing tier for a while and tries again.
 *
 * Errors: ioredis errors can carry the command that failed (for AUTH, its arguments). A
 * ClusterError therefore never keeps the client's error object: its cause is a fresh Error
 * with the message alone, and any occurrence of the password cut out of it.
 */
import { Cluster, type ClusterOptions } from 'ioredis'
import { AbortError, ClusterError, type ClusterFailure } from '../errors.js'
import type { ResolvedClusterOptions } from './cluster-options.js'

export interface ScriptDefinition {
  lua: string
  numberOfKeys: number
}

/** The client's options: fail fast (above), follow redirections, pipeline per node. */
export function clusterOptions(config: ResolvedClusterOptions, scripts: Record<string, ScriptDefinition>): ClusterOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    // Concurrent GETs of a read and of prefetch go out as one pipeline per node.
    enableAutoPipelining: true,
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: Math.min(config.connectTimeoutMs, 2000),
    // Picks up a failover or a resharding even when no command ran into it.
    slotsRefreshInterval: 5000,
    clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    scripts,
    redisOptions: {
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(config.tls ? { tls: config.tlsCa === undefined ? {} : { ca: config.tlsCa } } : {}),
      connectTimeout: config.connectTimeoutMs,
      commandTimeout: config.commandTimeoutMs,
      maxRetriesPerRequest: 1,
      noDelay: true,
    },
  }
}

export function createClusterClient<T>(config: ResolvedClusterOptions, scripts: Record<string, ScriptDefinition>): Cluster & T {
  return new Cluster(config.seeds.map(({ host, port }) => ({ host, port })), clusterOptions(config, scripts)) as Cluster & T
}

/** Tracks the client's last error and the node it came from, for a useful init failure. */
export class ClientErrors {
  last: { error: unknown; node: string | undefined } | undefined
  constructor(client: Cluster) {
    // Without listeners ioredis prints unhandled 'error' events to the console.
    client.on('error', (error: unknown) => {
      this.last = { error: (error as { lastNodeError?: unknown }).lastNodeError ?? error, node: this.last?.node }
    })
    client.on('node error', (error: unknown, node: string) => {
      this.last = { error, node }
    })
  }
}

/**
 * Connects and waits until the cluster is ready (CLUSTER INFO says ok), for at most
 * `connectTimeoutMs`. On failure the client is disconnected and a ClusterError says why:
 * authentication, a server that is not a cluster node, or no node reachable.
 */
export async function connectCluster(client: Cluster, errors: ClientErrors, config: ResolvedClusterOptions): Promise<void> {
  const seeds = config.seeds.map(({ host, port }) => `${host}:${port}`).join(', ')
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready within ${config.connectTimeoutMs} ms`)), config.connectTimeoutMs)
      }),
    ])
  } catch (err) {
    client.disconnect()
    const cause = errors.last?.error ?? err
    const node = errors.last?.node
    const message = messageOf(cause, config.password)
    let detail: string
    let reason: ClusterFailure = 'unreachable'
    if (/cluster support disabled/i.test(message)) {
      detail = 'is not a Redis Cluster node (cluster support disabled); cluster.nodes must name nodes of a cluster'
      reason = 'not-cluster'
    } else if (/WRONGPASS|NOAUTH|NOPERM|invalid password|without any password configured/i.test(message)) {
      detail = `authentication failed (check cluster.username / cluster.password): ${message}`
      reason = 'auth'
    } else if (errors.last === undefined) detail = `cluster at ${seeds} not ready within ${config.connectTimeoutMs} ms (is cluster_state ok?)`
    else detail = `cannot connect (seeds ${seeds}): ${message}`
    throw new ClusterError(detail, { ...(node === undefined ? {} : { node }), cause: safeCause(cause, config.password), reason })
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `promise`, or a ClusterError after `ms`, or an AbortError when `signal` fires: nothing the
 * tier does waits longer. The client's own failures become ClusterErrors.
 */
export function bounded<T>(promise: Promise<T>, ms: number, what: string, password: string | undefined, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(new AbortError(undefined, signal.reason))
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  return Promise.race([
    promise.catch((err: unknown) => {
      throw err instanceof ClusterError ? err : new ClusterError(`${what} failed: ${messageOf(err, password)}`, { cause: safeCause(err, password) })
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClusterError(`${what} timed out after ${ms} ms`)), ms)
      if (signal === undefined) return
      onAbort = () => reject(new AbortError(undefined, signal.reason))
      signal.addEventListener('abort', onAbort, { once: true })
    }),
  ]).finally(() => {
    clearTimeout(timer)
    if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort)
  })
}

/** An error's message with the password cut out. */
export function messageOf(err: unknown, password: string | undefined): string {
  return redact(err instanceof Error ? err.message : String(err), password)
}

/** A cause safe to keep: the name and message only, no command or arguments, password cut out. */
export function safeCause(err: unknown, password: string | undefined): Error {
  const cause = new Error(messageOf(err, password))
  cause.name = err instanceof Error ? err.name : 'Error'
  cause.stack = `${cause.name}: ${cause.message}`
  return cause
}

function redact(text: string, password: string | undefined): string {
  if (password === undefined || password === '') return text
  let out = text
  for (const form of new Set([password, encodeURIComponent(password)])) out = out.split(form).join('[REDACTED]')
  return out
}
