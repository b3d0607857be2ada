/**
 * BlockReader's options: their types (grouped by concern, each with its default and unit),
 * the defaults, and validation that throws TypeError/RangeError naming the option's path.
 *
 * Defaults are chosen for a training node reading 100-200 MB shards: 4 MiB blocks, 8 MiB
 * coalesced GETs, a read-ahead window that grows to 128 MiB, and 256 MiB of speculative
 * bytes in flight. Against a store with 20 ms first-byte latency and 50 MB/s per connection
 * (the benchmark's model), 16 MiB GETs and a 64 MiB window kept under four requests in flight
 * per reader: 66% of the network limit; 8 MiB and 128 MiB keep five to six: 75-84%.
 */
import type { RetryOptions } from './source/retrying-source.js'
import { RETRY_DEFAULTS } from './source/retrying-source.js'
import type { S3Options } from './source/s3-client.js'
import type { RedisClusterStoreOptions } from './cache/cluster-options.js'
import type { Source } from './source/source.js'
import { GiB, KiB, MiB } from './units.js'
import { resolve } from 'node:path'

export interface BlockReaderOptions {
  /** Directory of the LMDB disk tier (or `disk.dirs` for several); omit both for a memory-only cache. */
  cacheDir?: string
  memory?: {
    /** Memory tier bound in bytes. Default 512 MiB; 0 disables the tier. */
    maxBytes?: number
  }
  disk?: {
    /** Disk tier bound in bytes (keys, headers and data in 4 KiB pages), with `cacheDir`. Default 10 GiB. */
    maxBytes?: number
    /**
     * Several cache directories (one per local disk, say) instead of `cacheDir` and
     * `disk.maxBytes`, which must then be left out. Each is an LMDB environment with its own
     * bound; a block lives in one of them, chosen from its key by rendezvous hashing weighted
     * by the bounds (docs/design.md). A directory that fails is bypassed while the others
     * serve. Paths must differ. Default: none.
     */
    dirs?: DiskDirOptions[]
    /** Disk fills allowed in flight behind readers, in bytes; past it fills are dropped. Default 256 MiB. */
    maxPendingWriteBytes?: number
    /** Consecutive errors after which the tier is bypassed. Default 3. */
    maxConsecutiveErrors?: number
    /**
     * Write fills on a thread of their own instead of the reader's event loop. Default false:
     * on two shared cores the thread costs a cold read 20-30% more CPU; `sluice mount` turns
     * it on, because the FUSE daemon answers every request from its event loop (docs/design.md).
     */
    writerThread?: boolean
    /** How long a bypassed tier is skipped before it is tried again, in ms. Default 10000. */
    retryAfterMs?: number
  }
  /** Block size in bytes: the unit of caching and of verification. Default 4 MiB. */
  blockSize?: number
  prefetch?: {
    /** Worker threads doing fetches; 0 fetches on the caller's thread. Default 0 (docs/benchmark.md says why). */
    threads?: number
    /** Speculative bytes in flight across all handles. Default 256 MiB. */
    maxInflightBytes?: number
    /** Largest read-ahead window per handle, in bytes (at most half the memory tier when there is no disk tier). Default 128 MiB. */
    maxReadAheadBytes?: number
    /** Consecutive missing blocks are fetched in one GET of up to this many bytes. Default 8 MiB. */
    coalesceBytes?: number
    /** Requests to the source at once, demand and prefetch together. Default 16. */
    maxConcurrentRequests?: number
  }
  /**
   * What `open`/`stat`/`list` do when the store cannot be reached (refused, timed out, 5xx
   * after retries). `'strict'` (default) fails with ERR_SLUICE_UNREACHABLE (or the store's
   * error); `'stale-ok'` answers from the last version the disk tier saw, so resident data
   * stays readable through an outage. Blocks that are not resident still fail.
   */
  offline?: 'strict' | 'stale-ok'
  /** Retries and timeouts for every source. */
  retry?: RetryOptions
  /** S3 endpoint, region and credentials; default: the AWS SDK's environment and chain. */
  s3?: S3Options
  /** Extra sources by scheme (for example a MemorySource in tests). */
  sources?: Source[]
  /**
   * The cluster tier: a Redis Cluster shared by the nodes of a training cluster, between the
   * disk tier and the source, so a block leaves object storage once for all of them. Omit
   * for a cache of this node only.
   */
  cluster?: ClusterOptions
}

/** One directory of the disk tier. */
export interface DiskDirOptions {
  /** Directory of this part of the disk tier; created with mode 0700 if missing. */
  path: string
  /** Bound on the bytes stored in this directory (keys, headers and data in 4 KiB pages). Default 10 GiB, at least 1 MiB. */
  maxBytes?: number
}

/**
 * The cluster tier: the store's own options (nodes, credentials, key prefix, timeouts,
 * leases, secret; lib/cache/cluster-options.ts, checked when the store is built) and how the
 * reader treats the tier.
 */
export interface ClusterOptions extends RedisClusterStoreOptions {
  /** Fills to the cluster in flight behind readers, in bytes; past it they are dropped and counted. Default 128 MiB. */
  maxPendingWriteBytes?: number
  /** Consecutive errors after which the tier is bypassed. Default 3. */
  maxConsecutiveErrors?: number
  /** How long a bypassed (or unreachable) tier is skipped before it is tried again, in ms. Default 5000. */
  retryAfterMs?: number
}

export interface ResolvedOptions {
  /** The disk tier's first (with `cacheDir`, only) directory; undefined for memory only. */
  cacheDir: string | undefined
  /** Every directory of the disk tier with its bound: `cacheDir` alone, or `disk.dirs`; empty for memory only. */
  diskDirs: { path: string; maxBytes: number }[]
  memoryMaxBytes: number
  diskMaxBytes: number
  maxPendingWriteBytes: number
  diskMaxConsecutiveErrors: number
  diskRetryAfterMs: number
  diskWriterThread: boolean
  blockSize: number
  threads: number
  maxInflightBytes: number
  maxReadAheadBytes: number
  coalesceBytes: number
  maxConcurrentRequests: number
  offline: 'strict' | 'stale-ok'
  retry: Required<RetryOptions>
  s3: S3Options
  sources: Source[]
  cluster: ResolvedClusterTier | undefined
}

/** The cluster group split into the store's options and the reader's. */
export interface ResolvedClusterTier {
  store: RedisClusterStoreOptions
  maxPendingWriteBytes: number
  maxConsecutiveErrors: number
  retryAfterMs: number
}

function bytesOption(value: unknown, path: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    throw new TypeError(`BlockReader option ${path} must be an integer, got ${JSON.stringify(value)}`)
  }
  if (value < min || value > max) throw new RangeError(`BlockReader option ${path} must be in [${min}, ${max}], got ${value}`)
  return value
}

function booleanOption(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new TypeError(`BlockReader option ${path} must be true or false, got ${JSON.stringify(value)}`)
  return value
}

/** An optional integer option: absent stays absent. */
function optionalInteger(value: unknown, path: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : bytesOption(value, path, 0, min, max)
}

/** Names a value's type for an error message without showing it (it may be a secret). */
function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
}

function checkCredentials(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`BlockReader option s3.credentials must be an object { accessKeyId, secretAccessKey, sessionToken? }, got ${typeName(value)}`)
  }
  const c = value as Record<string, unknown>
  for (const key of ['accessKeyId', 'secretAccessKey', 'sessionToken']) {
    if (key === 'sessionToken' && c[key] === undefined) continue
    if (typeof c[key] !== 'string') throw new TypeError(`BlockReader option s3.credentials.${key} must be a string, got ${typeName(c[key])}`)
  }
}

/**
 * Checks the `s3` group and fills in `maxSockets`: one keep-alive socket per request the
 * reader may have in flight, at least the client's default of 64. Endpoint and credential
 * values are never echoed: either may carry a secret.
 */
function resolveS3(value: unknown, maxConcurrentRequests: number): S3Options {
  const s3 = object(value, 's3')
  if (s3.endpoint !== undefined) {
    let protocol: string | undefined
    if (typeof s3.endpoint === 'string') {
      try {
        protocol = new URL(s3.endpoint).protocol
      } catch {
        protocol = undefined
      }
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      const got = typeof s3.endpoint !== 'string' ? typeName(s3.endpoint) : protocol === undefined ? 'a string that does not parse as a URL' : `a URL with scheme ${JSON.stringify(protocol)}`
      throw new TypeError(`BlockReader option s3.endpoint must be an http(s) URL string, got ${got}`)
    }
  }
  if (s3.region !== undefined && (typeof s3.region !== 'string' || s3.region === '')) {
    throw new TypeError(`BlockReader option s3.region must be a non-empty string, got ${JSON.stringify(s3.region) ?? typeName(s3.region)}`)
  }
  booleanOption(s3.forcePathStyle, 's3.forcePathStyle', false)
  if (s3.credentials !== undefined) checkCredentials(s3.credentials)
  const maxSockets = bytesOption(s3.maxSockets, 's3.maxSockets', Math.max(64, maxConcurrentRequests), 1, 4096)
  optionalInteger(s3.listPageSize, 's3.listPageSize', 1, 1000)
  return { ...(s3 as S3Options), maxSockets }
}

/** Option names per group: a misspelt option is an error, not a silently kept default. */
const KNOWN: Record<string, readonly string[]> = {
  options: ['cacheDir', 'memory', 'disk', 'blockSize', 'prefetch', 'offline', 'retry', 's3', 'sources', 'cluster'],
  memory: ['maxBytes'],
  disk: ['maxBytes', 'dirs', 'maxPendingWriteBytes', 'maxConsecutiveErrors', 'retryAfterMs', 'writerThread'],
  prefetch: ['threads', 'maxInflightBytes', 'maxReadAheadBytes', 'coalesceBytes', 'maxConcurrentRequests'],
  retry: ['maxAttempts', 'baseDelayMs', 'maxDelayMs', 'requestTimeoutMs'],
  s3: ['endpoint', 'region', 'forcePathStyle', 'credentials', 'maxSockets', 'listPageSize'],
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`BlockReader option ${path} must be an object`)
  }
  const known = KNOWN[path]
  if (known) {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const where = path === 'options' ? key : `${path}.${key}`
        throw new TypeError(`BlockReader: unknown option ${where} (known: ${known.map((k) => (path === 'options' ? k : `${path}.${k}`)).join(', ')})`)
      }
    }
  }
  return value as Record<string, unknown>
}

function checkSources(sources: unknown[]): void {
  sources.forEach((source, i) => {
    const s = source as Partial<Source> | null
    const ok =
      typeof s === 'object' && s !== null && Array.isArray(s.schemes) && s.schemes.every((x) => typeof x === 'string') &&
      typeof s.stat === 'function' && typeof s.readRange === 'function' && typeof s.list === 'function'
    if (!ok) {
      throw new TypeError(`BlockReader option sources[${i}] must be a Source (schemes: string[], stat, readRange, list), got ${source === null ? 'null' : typeof source}`)
    }
  })
}

const DISK_MAX_BYTES = 10 * GiB

/**
 * The disk tier's directories: `cacheDir` with `disk.maxBytes`, or `disk.dirs`, never both
 * (which bound would a directory named in both have?). Paths are compared resolved, so
 * `cache` and `./cache/` are the same directory.
 */
function resolveDiskDirs(root: Record<string, unknown>, disk: Record<string, unknown>): ResolvedOptions['diskDirs'] {
  if (disk.dirs === undefined) {
    const maxBytes = bytesOption(disk.maxBytes, 'disk.maxBytes', DISK_MAX_BYTES, 1 * MiB)
    return root.cacheDir === undefined ? [] : [{ path: root.cacheDir as string, maxBytes }]
  }
  if (root.cacheDir !== undefined) throw new TypeError('BlockReader options cacheDir and disk.dirs exclude each other: list every directory in disk.dirs')
  if (disk.maxBytes !== undefined) throw new TypeError('BlockReader options disk.maxBytes and disk.dirs exclude each other: give each directory its own maxBytes')
  if (!Array.isArray(disk.dirs)) throw new TypeError(`BlockReader option disk.dirs must be an array of { path, maxBytes? }, got ${typeName(disk.dirs)}`)
  if (disk.dirs.length === 0) throw new TypeError('BlockReader option disk.dirs must list at least one directory (omit it for a memory-only cache)')
  const seen = new Map<string, number>()
  return disk.dirs.map((entry: unknown, i) => {
    const where = `disk.dirs[${i}]`
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new TypeError(`BlockReader option ${where} must be an object { path, maxBytes? }, got ${typeName(entry)}`)
    const dir = entry as Record<string, unknown>
    for (const key of Object.keys(dir)) {
      if (key !== 'path' && key !== 'maxBytes') throw new TypeError(`BlockReader: unknown option ${where}.${key} (known: ${where}.path, ${where}.maxBytes)`)
    }
    if (typeof dir.path !== 'string' || dir.path === '') throw new TypeError(`BlockReader option ${where}.path must be a non-empty string (a directory path)`)
    const same = seen.get(resolve(dir.path))
    if (same !== undefined) throw new TypeError(`BlockReader option ${where}.path names the same directory as disk.dirs[${same}].path (${JSON.stringify(dir.path)})`)
    seen.set(resolve(dir.path), i)
    return { path: dir.path, maxBytes: bytesOption(dir.maxBytes, `${where}.maxBytes`, DISK_MAX_BYTES, 1 * MiB) }
  })
}

/** The reader's part of the cluster group; the store checks the rest (nodes, timeouts) when it is built. */
function resolveClusterTier(group: Record<string, unknown>): ResolvedClusterTier {
  const { maxPendingWriteBytes, maxConsecutiveErrors, retryAfterMs, ...store } = group
  return {
    store: store as unknown as RedisClusterStoreOptions,
    maxPendingWriteBytes: bytesOption(maxPendingWriteBytes, 'cluster.maxPendingWriteBytes', 128 * MiB, 0),
    maxConsecutiveErrors: bytesOption(maxConsecutiveErrors, 'cluster.maxConsecutiveErrors', 3, 1, 1_000_000),
    retryAfterMs: bytesOption(retryAfterMs, 'cluster.retryAfterMs', 5000, 0),
  }
}

export function resolveOptions(options: BlockReaderOptions = {}): ResolvedOptions {
  const root = object(options, 'options')
  const memory = object(root.memory, 'memory')
  const disk = object(root.disk, 'disk')
  const prefetch = object(root.prefetch, 'prefetch')
  const retry = object(root.retry, 'retry')
  if (root.cacheDir !== undefined && (typeof root.cacheDir !== 'string' || root.cacheDir === '')) {
    throw new TypeError('BlockReader option cacheDir must be a non-empty string (a directory path)')
  }
  const blockSize = bytesOption(root.blockSize, 'blockSize', 4 * MiB, 4 * KiB, 256 * MiB)
  const coalesceBytes = bytesOption(prefetch.coalesceBytes, 'prefetch.coalesceBytes', 8 * MiB, 0, 1 * GiB)
  const offline = root.offline ?? 'strict'
  if (offline !== 'strict' && offline !== 'stale-ok') {
    throw new TypeError(`BlockReader option offline must be 'strict' or 'stale-ok', got ${JSON.stringify(offline)}`)
  }
  const maxConcurrentRequests = bytesOption(prefetch.maxConcurrentRequests, 'prefetch.maxConcurrentRequests', 16, 1, 1024)
  const baseDelayMs = bytesOption(retry.baseDelayMs, 'retry.baseDelayMs', RETRY_DEFAULTS.baseDelayMs, 0)
  const maxDelayMs = bytesOption(retry.maxDelayMs, 'retry.maxDelayMs', RETRY_DEFAULTS.maxDelayMs, 0)
  if (baseDelayMs > maxDelayMs) {
    throw new RangeError(`BlockReader option retry.baseDelayMs (${baseDelayMs}) must not exceed retry.maxDelayMs (${maxDelayMs})`)
  }
  const sources = root.sources ?? []
  if (!Array.isArray(sources)) throw new TypeError('BlockReader option sources must be an array of Source')
  checkSources(sources)
  const diskDirs = resolveDiskDirs(root, disk)
  return {
    cacheDir: diskDirs[0]?.path,
    diskDirs,
    memoryMaxBytes: bytesOption(memory.maxBytes, 'memory.maxBytes', 512 * MiB, 0),
    diskMaxBytes: bytesOption(disk.maxBytes, 'disk.maxBytes', DISK_MAX_BYTES, 1 * MiB),
    maxPendingWriteBytes: bytesOption(disk.maxPendingWriteBytes, 'disk.maxPendingWriteBytes', 256 * MiB, 0),
    diskMaxConsecutiveErrors: bytesOption(disk.maxConsecutiveErrors, 'disk.maxConsecutiveErrors', 3, 1, 1_000_000),
    diskRetryAfterMs: bytesOption(disk.retryAfterMs, 'disk.retryAfterMs', 10_000, 0),
    diskWriterThread: booleanOption(disk.writerThread, 'disk.writerThread', false),
    blockSize,
    threads: bytesOption(prefetch.threads, 'prefetch.threads', 0, 0, 64),
    maxInflightBytes: bytesOption(prefetch.maxInflightBytes, 'prefetch.maxInflightBytes', 256 * MiB, 0),
    maxReadAheadBytes: bytesOption(prefetch.maxReadAheadBytes, 'prefetch.maxReadAheadBytes', 128 * MiB, 0),
    coalesceBytes: Math.max(blockSize, coalesceBytes),
    maxConcurrentRequests,
    offline,
    retry: {
      maxAttempts: bytesOption(retry.maxAttempts, 'retry.maxAttempts', RETRY_DEFAULTS.maxAttempts, 1, 100),
      baseDelayMs,
      maxDelayMs,
      requestTimeoutMs: bytesOption(retry.requestTimeoutMs, 'retry.requestTimeoutMs', RETRY_DEFAULTS.requestTimeoutMs, 1),
    },
    s3: resolveS3(root.s3, maxConcurrentRequests),
    sources: sources as Source[],
    cluster: root.cluster === undefined ? undefined : resolveClusterTier(object(root.cluster, 'cluster')),
  }
}
