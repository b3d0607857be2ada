/**
 * The cluster tier's options: what a user writes, the defaults, and validation that throws
 * TypeError / RangeError naming the option's path (`cluster.nodes[1]: ...`), as every
 * option of sluice does.
 *
 * Node URLs may carry credentials (`redis://user:password@host:port`). They are taken out
 * here, once, and every message built from a URL shows it without them: a typo in a node
 * list must not print the cluster's password into a log.
 */
import { readFileSync } from 'node:fs'
import { MiB } from '../units.js'

export interface RedisClusterStoreOptions {
  // Where the cluster is, and who we are to it.
  /** Seed nodes: `redis://[user:password@]host:port`, or `rediss://` for TLS (all alike). Required. */
  nodes: string[]
  /** ACL user name. Default: the one in the node URLs, else none (Redis's `default` user). */
  username?: string
  /** Password (AUTH). Default: the one in the node URLs, else none. */
  password?: string
  /** Prefix of every key the tier writes, so several caches can share one cluster. Default `'sluice:'`. */
  keyPrefix?: string

  // Bounds: the tier is advisory, so nothing waits on it for long.
  /** Bound on connecting (`init`) in ms. Default 5000. */
  connectTimeoutMs?: number
  /** Bound on each round trip (a `getMany`, a `put`, one lease poll) in ms. Default 2000. */
  commandTimeoutMs?: number

  // Fill leases.
  /** How long a fill lease lasts, in ms: a holder that dies delays the others at most this long. Default 10000. */
  leaseMs?: number
  /** How long `leases.waitFor` waits for another node's fill, in ms. Default `leaseMs`. */
  maxWaitMs?: number

  // Values.
  /**
   * HMAC-SHA256 key (a string or bytes, at least 16 bytes). Values then carry an HMAC, and a
   * value without a valid one is refused: a client that can write to Redis but lacks the key
   * cannot plant bytes other nodes would serve. Default none (CRC32C only).
   */
  secret?: string | Uint8Array
  /** Largest block the tier stores, in bytes; larger puts are declined. Default 64 MiB. */
  maxValueBytes?: number
  /**
   * A value not read for this long expires, in ms; every hit renews it. With Redis's
   * `maxmemory-policy noeviction` (the policy docs/cluster.md recommends: the only one that
   * keeps part of a dataset larger than the cluster resident across epochs) this is how an
   * old dataset makes room for a new one. 0: values never expire. Default 6 hours.
   */
  idleTtlMs?: number
  /**
   * PEM file of the CA that signed the cluster's certificates, for `rediss://` nodes.
   * Default: Node's trust store (plus NODE_EXTRA_CA_CERTS).
   */
  tlsCaFile?: string
}

export interface ClusterSeed {
  host: string
  port: number
}

export interface ResolvedClusterOptions {
  seeds: ClusterSeed[]
  tls: boolean
  username: string | undefined
  password: string | undefined
  keyPrefix: string
  connectTimeoutMs: number
  commandTimeoutMs: number
  leaseMs: number
  maxWaitMs: number
  secret: Buffer | undefined
  maxValueBytes: number
  idleTtlMs: number
  tlsCa: Buffer | undefined
}

const KNOWN = ['nodes', 'username', 'password', 'keyPrefix', 'connectTimeoutMs', 'commandTimeoutMs', 'leaseMs', 'maxWaitMs', 'secret', 'maxValueBytes', 'idleTtlMs', 'tlsCaFile']
const MAX_KEY_PREFIX = 256
const MIN_SECRET_BYTES = 16
/** Redis's proto-max-bulk-len is 512 MB; leave room for the header. */
const MAX_VALUE_LIMIT = 512 * MiB - 64 * 1024

/** A node URL fit to print: everything up to the last `@` (user name, password) cut out. */
export function printableNodeUrl(url: string): string {
  const at = url.lastIndexOf('@')
  if (at < 0) return url
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? ''
  return scheme + url.slice(at + 1)
}

/** Validates `options` (at option path `path`) and fills in the defaults. */
export function resolveClusterOptions(options: RedisClusterStoreOptions, path = 'cluster'): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`${path} must be an object with at least { nodes }`)
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw new TypeError(`${path}.${key}: unknown option (known: ${KNOWN.join(', ')})`)
  }
  const { seeds, tls, username: urlUser, password: urlPassword } = parseNodes(options.nodes, `${path}.nodes`)
  const username = optionalString(options.username, `${path}.username`) ?? urlUser
  const password = optionalString(options.password, `${path}.password`) ?? urlPassword
  const keyPrefix = optionalString(options.keyPrefix, `${path}.keyPrefix`) ?? 'sluice:'
  if (keyPrefix.length > MAX_KEY_PREFIX) throw new RangeError(`${path}.keyPrefix: at most ${MAX_KEY_PREFIX} characters, got ${keyPrefix.length}`)
  // A brace would make Redis hash the prefix instead of the block key: every block in one slot.
  if (/[{}]/.test(keyPrefix)) throw new TypeError(`${path}.keyPrefix: must not contain { or } (they choose the slot), got ${JSON.stringify(keyPrefix)}`)
  const leaseMs = integer(options.leaseMs, `${path}.leaseMs`, 10_000, 100, 3_600_000)
  return {
    seeds,
    tls,
    username,
    password,
    keyPrefix,
    connectTimeoutMs: integer(options.connectTimeoutMs, `${path}.connectTimeoutMs`, 5000, 100, 600_000),
    commandTimeoutMs: integer(options.commandTimeoutMs, `${path}.commandTimeoutMs`, 2000, 10, 600_000),
    leaseMs,
    maxWaitMs: integer(options.maxWaitMs, `${path}.maxWaitMs`, leaseMs, 0, 3_600_000),
    secret: secretBytes(options.secret, `${path}.secret`),
    maxValueBytes: integer(options.maxValueBytes, `${path}.maxValueBytes`, 64 * MiB, 1, MAX_VALUE_LIMIT),
    idleTtlMs: integer(options.idleTtlMs, `${path}.idleTtlMs`, 6 * 3_600_000, 0, 365 * 24 * 3_600_000),
    tlsCa: tlsCa(options.tlsCaFile, tls, `${path}.tlsCaFile`),
  }
}

function parseNodes(value: unknown, path: string): { seeds: ClusterSeed[]; tls: boolean; username?: string; password?: string } {
  if (!Array.isArray(value) || value.length === 0) throw new TypeError(`${path}: must be a non-empty array of redis:// or rediss:// URLs`)
  const seeds: ClusterSeed[] = []
  let scheme: string | undefined
  let username: string | undefined
  let password: string | undefined
  value.forEach((entry: unknown, i) => {
    const at = `${path}[${i}]`
    if (typeof entry !== 'string') throw new TypeError(`${at}: must be a URL string, got ${entry === null ? 'null' : typeof entry}`)
    let url: URL
    try {
      url = new URL(entry)
    } catch {
      throw new TypeError(`${at}: not a URL: ${JSON.stringify(printableNodeUrl(entry))} (expected redis://host:port)`)
    }
    const shown = JSON.stringify(printableNodeUrl(entry))
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new TypeError(`${at}: scheme must be redis: or rediss:, got ${shown}`)
    if (scheme !== undefined && url.protocol !== scheme) throw new TypeError(`${at}: every node must use the same scheme (${scheme}//), got ${shown}`)
    scheme = url.protocol
    if (url.hostname === '') throw new TypeError(`${at}: no host in ${shown}`)
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') throw new TypeError(`${at}: a cluster has only database 0; no path allowed, got ${shown}`)
    if (url.search !== '' || url.hash !== '') throw new TypeError(`${at}: no query or fragment allowed, got ${shown}`)
    const port = url.port === '' ? 6379 : Number(url.port)
    const user = url.username === '' ? undefined : decodeURIComponent(url.username)
    const pass = url.password === '' ? undefined : decodeURIComponent(url.password)
    if ((user !== undefined && username !== undefined && user !== username) || (pass !== undefined && password !== undefined && pass !== password)) {
      throw new TypeError(`${at}: credentials differ from an earlier node's; give them once, in ${path.replace(/\.nodes$/, '')}.username / .password`)
    }
    username ??= user
    password ??= pass
    // IPv6 hosts come bracketed from URL; the client wants them bare.
    seeds.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port })
  })
  return { seeds, tls: scheme === 'rediss:', ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) }
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new TypeError(`${path}: must be a string, got ${value === null ? 'null' : typeof value}`)
  return value
}

function integer(value: unknown, path: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${path}: must be an integer, got ${JSON.stringify(value) ?? typeof value}`)
  if (value < min || value > max) throw new RangeError(`${path}: must be in [${min}, ${max}], got ${value}`)
  return value
}

function secretBytes(value: unknown, path: string): Buffer | undefined {
  if (value === undefined) return undefined
  let bytes: Buffer
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8')
  else if (value instanceof Uint8Array) bytes = Buffer.from(value) // a copy: the caller may reuse theirs
  else throw new TypeError(`${path}: must be a string or a Uint8Array, got ${value === null ? 'null' : typeof value}`)
  if (bytes.length < MIN_SECRET_BYTES) throw new RangeError(`${path}: must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length}`)
  return bytes
}

/** The CA certificates in `file`, read once; only for rediss:// nodes. */
function tlsCa(file: unknown, tls: boolean, path: string): Buffer | undefined {
  if (file === undefined) return undefined
  if (typeof file !== 'string' || file === '') throw new TypeError(`${path}: must be the path of a PEM file, got ${typeof file}`)
  if (!tls) throw new TypeError(`${path}: only for rediss:// (TLS) nodes`)
  try {
    return readFileSync(file)
  } catch (err) {
    throw new TypeError(`${path}: cannot read ${file}: ${(err as Error).message}`)
  }
}
