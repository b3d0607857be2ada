/**
 * The cluster tier: blocks in a Redis Cluster shared by every node of a training cluster, so
 * a block leaves object storage once for the whole cluster rather than once per node.
 *
 * It is a remote tier (block-store.ts): synchronous lookups always miss, and the read path
 * asks it with `getMany`, whose GETs ioredis pipelines per master. Values carry a header
 * checked on every read (cluster-value.ts); a value that fails is deleted (only if it is still
 * the value that was read), counted, and reported as a miss. Fill leases (cluster-leases.ts)
 * give one node the fetch of a block. Redis's maxmemory policy does the eviction: the tier
 * never deletes to make room, and a put the cluster refuses for memory (OOM, noeviction)
 * is a declined fill.
 *
 * Every call is bounded (cluster-client.ts) and either settles with misses or rejects with a
 * ClusterError; the tiered cache counts the rejection and bypasses the tier. This store has
 * no health logic of its own.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { ClosedError, ClusterError } from '../errors.js'
import { newTierStats, type BlockStore, type FillLeases } from './block-store.js'
import { ClientErrors, bounded, connectCluster, createClusterClient, messageOf, type ScriptDefinition } from './cluster-client.js'
import { ClusterFillLeases, LEASE_SCRIPTS, type LeaseCommands, type LeaseHost } from './cluster-leases.js'
import { resolveClusterOptions, type RedisClusterStoreOptions, type ResolvedClusterOptions } from './cluster-options.js'
import { UsageSnapshot, parseInfo, sumUsage, type ClusterUsage } from './cluster-usage.js'
import { ClusterBulkReader, type BulkInBlock } from './cluster-bulk-reader.js'
import { TAIL_BYTES, bulkKeyOf, encodeValue, isValueKey, keyPattern, leaseKeyOf, namesBulk, valueKeyOf, verifyValue } from './cluster-value.js'
import type { ClusterTierCounts, TierStats } from '../types.js'
import type { Cluster } from 'ioredis'

export type { RedisClusterStoreOptions } from './cluster-options.js'

/** KEYS: head, bulk. ARGV: the header as read. Deletes the value (head and bulk) only if its head still starts so. */
const DROP_IF_HEADER = `
if #ARGV[1] == 0 then
  if redis.call('STRLEN', KEYS[1]) == 0 then return redis.call('DEL', KEYS[1], KEYS[2]) end
  return 0
end
if redis.call('GETRANGE', KEYS[1], 0, #ARGV[1] - 1) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0`

const SCRIPTS: Record<string, ScriptDefinition> = { ...LEASE_SCRIPTS, sluiceDropIfHeader: { lua: DROP_IF_HEADER, numberOfKeys: 2 } }

interface StoreCommands extends LeaseCommands {
  sluiceDropIfHeader(headKey: string, bulkKey: string, header: Buffer): Promise<number>
}

/** Keys asked per SCAN step when deleting by prefix. */
const SCAN_COUNT = 1000

export class RedisClusterBlockStore implements BlockStore {
  readonly name = 'cluster'
  readonly locality = 'remote'
  readonly leases: FillLeases
  private readonly config: ResolvedClusterOptions
  private readonly client: Cluster & StoreCommands
  private readonly clientErrors: ClientErrors
  private readonly counters: TierStats
  private readonly counts: ClusterTierCounts = {
    crcFailures: 0,
    authFailures: 0,
    leasesWon: 0,
    leasesUnavailable: 0,
    leasesWaited: 0,
    leasesFilled: 0,
    leasesExpired: 0,
    leaseTimeouts: 0,
    directReads: 0,
    clientReads: 0,
  }
  private readonly usageSnapshot: UsageSnapshot
  /** Reads bulks into their blocks (not over TLS: ioredis reads those). */
  private readonly bulks: ClusterBulkReader | undefined
  private connected = false
  private closed = false

  /** Validates the options (TypeError / RangeError naming `cluster.<option>`); `init` connects. */
  constructor(options: RedisClusterStoreOptions, optionPath = 'cluster') {
    this.config = resolveClusterOptions(options, optionPath)
    this.client = createClusterClient<StoreCommands>(this.config, SCRIPTS)
    this.clientErrors = new ClientErrors(this.client)
    const { username, password, commandTimeoutMs, connectTimeoutMs, maxValueBytes } = this.config
    // A third of the round trip's bound: a stalled bulk connection leaves time to ask ioredis.
    const idleTimeoutMs = Math.max(1, Math.floor(commandTimeoutMs / 3))
    this.bulks = this.config.tls ? undefined : new ClusterBulkReader(this.client, { username, password, idleTimeoutMs, connectTimeoutMs, maxValueBytes })
    this.counters = newTierStats('cluster', 0)
    this.usageSnapshot = new UsageSnapshot(() => this.readUsage(), (err) => this.absorbed(err))
    const host: LeaseHost = {
      commands: this.client,
      token: randomBytes(16).toString('hex'),
      leaseMs: this.config.leaseMs,
      maxWaitMs: this.config.maxWaitMs,
      counts: this.counts,
      names: (key) => {
        const value = valueKeyOf(this.config.keyPrefix, key)
        return { value, lease: leaseKeyOf(value) }
      },
      bounded: (promise, what, signal) => this.bounded(promise, what, signal),
      readVerified: (keys, signal) => this.read(keys, false, signal),
      absorbed: (err) => this.absorbed(err),
      check: () => this.check(),
    }
    this.leases = new ClusterFillLeases(host)
  }

  /** Connects and waits until the cluster is ready, within `connectTimeoutMs`; rejects with a ClusterError. */
  async init(): Promise<void> {
    if (this.closed) throw new ClosedError('cluster tier')
    if (this.connected) return
    await connectCluster(this.client, this.clientErrors, this.config)
    this.connected = true
    await this.usageSnapshot.refresh()
  }

  getSync(_key: Uint8Array): undefined {
    return undefined
  }

  copyInto(_key: Uint8Array, _target: Uint8Array, _targetOffset: number, _from: number, _to: number, _expectedLength: number): boolean {
    return false
  }

  has(_key: Uint8Array): boolean {
    return false
  }

  getMany(keys: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<(Uint8Array | undefined)[]> {
    return this.read(keys, true, options.signal)
  }

  /**
   * Verified values of `keys` in one bounded round trip per master; undefined for a miss or a
   * value that failed its checks. Rejects if any GET failed: a tier that cannot answer for
   * every block is one the tiered cache should know is failing.
   */
  private async read(keys: Uint8Array[], countMisses: boolean, signal?: AbortSignal): Promise<(Uint8Array | undefined)[]> {
    this.check()
    if (keys.length === 0) return []
    const names = keys.map((key) => valueKeyOf(this.config.keyPrefix, key))
    const ttl = this.config.idleTtlMs
    // A hit renews the value's idle time (GETEX), so what is read every epoch never expires.
    // Head and bulk go out together (one pipeline per master).
    const get = (name: string) => (ttl > 0 ? this.client.getexBuffer(name, 'PX', ttl) : this.client.getBuffer(name))
    // A bulk goes to the bulk reader first, which reads it into its block; ioredis answers what it cannot.
    const getBulk = async (name: string): Promise<Buffer | BulkInBlock | null> => {
      const direct = this.bulks === undefined ? undefined : await this.bulks.read(ttl > 0 ? ['GETEX', name, 'PX', String(ttl)] : ['GET', name], TAIL_BYTES)
      if (direct !== undefined) {
        this.counts.directReads++
        return direct
      }
      this.counts.clientReads++
      return get(name)
    }
    const replies = await this.bounded(Promise.all(names.flatMap((name) => [get(name), getBulk(bulkKeyOf(name))])), 'GET', signal)
    // The bulk reader's GET may have run before the head's, on another connection: a head
    // whose bulk was missing then may belong to a value written in between (bulk first, head
    // last). Ask for those bulks again, now after their heads, before calling any incomplete.
    const recheck = this.bulks === undefined ? [] : names.flatMap((_, i) => (namesBulk(replies[2 * i] as Buffer | null) && replies[2 * i + 1] === null ? [i] : []))
    if (recheck.length > 0) {
      const again = await this.bounded(Promise.all(recheck.map((i) => get(bulkKeyOf(names[i]!)))), 'GET', signal)
      recheck.forEach((i, k) => (replies[2 * i + 1] = again[k] ?? null))
    }
    return keys.map((key, i) => {
      const head = replies[2 * i] as Buffer | null
      const data = head === null ? undefined : this.accept(key, names[i]!, head, replies[2 * i + 1]!)
      if (data === undefined) {
        if (countMisses) this.counters.misses++
        return undefined
      }
      this.counters.hits++
      this.counters.hitBytes += data.length
      return data
    })
  }

  /**
   * Which blocks have a value, in one bounded round trip per master (EXISTS, pipelined), for
   * preload's residency report. Presence only: every value is checked when it is read.
   */
  async containsMany(keys: Uint8Array[]): Promise<boolean[]> {
    this.check()
    if (keys.length === 0) return []
    const names = keys.map((key) => valueKeyOf(this.config.keyPrefix, key))
    const found = await this.bounded(Promise.all(names.map((name) => this.client.exists(name))), 'EXISTS')
    return found.map((n) => n > 0)
  }

  /** The block inside a value read under `name`, or undefined (counted, and the value dropped) if it fails a check. */
  private accept(key: Uint8Array, name: string, head: Buffer, bulk: Buffer | BulkInBlock | null): Uint8Array | undefined {
    const verified = verifyValue(head, bulk, key, this.config.secret)
    if (verified.ok) return verified.data
    // A bulk evicted apart from its head is a miss, not damage: drop the head, count nothing.
    if (verified.failure !== 'incomplete') {
      if (verified.failure === 'auth') this.counts.authFailures++
      else this.counts.crcFailures++
      this.counters.errors++
      this.counters.lastError = `${verified.failure === 'auth' ? 'unauthenticated' : 'corrupt'} value dropped from the cluster tier`
    }
    void this.bounded(this.client.sluiceDropIfHeader(name, bulkKeyOf(name), verified.header), 'dropping a damaged value').catch((err: unknown) => this.absorbed(err))
    return undefined
  }

  /**
   * Stores a block. Resolves false, counted as a dropped fill, when the block is larger than
   * `maxValueBytes` or the cluster is out of memory (maxmemory with noeviction); rejects with
   * a ClusterError when the SET failed otherwise.
   */
  async put(key: Uint8Array, bytes: Uint8Array): Promise<boolean> {
    this.check()
    if (bytes.length > this.config.maxValueBytes) {
      this.counters.droppedFills++
      return false
    }
    const { head, bulk } = encodeValue(key, bytes, this.config.secret)
    const name = valueKeyOf(this.config.keyPrefix, key)
    const ttl = this.config.idleTtlMs
    const set = (k: string, v: Uint8Array) => {
      const value = Buffer.from(v.buffer, v.byteOffset, v.byteLength) // a view, not a copy
      return ttl > 0 ? this.client.set(k, value, 'PX', ttl) : this.client.set(k, value)
    }
    try {
      // The bulk first: a reader that finds the head finds its bulk.
      if (bulk !== undefined) await this.bounded(set(bulkKeyOf(name), bulk), 'SET')
      await this.bounded(set(name, head), 'SET')
      return true
    } catch (err) {
      if (bulk !== undefined) void this.bounded(this.client.unlink(bulkKeyOf(name)), 'UNLINK').catch((e: unknown) => this.absorbed(e))
      if (!(err instanceof ClusterError) || !/: OOM /.test(err.message)) throw err
      this.counters.droppedFills++
      return false
    }
  }

  countDroppedFill(): void {
    this.counters.droppedFills++
  }

  async delete(key: Uint8Array): Promise<boolean> {
    this.check()
    const name = valueKeyOf(this.config.keyPrefix, key)
    return (await this.bounded(this.client.unlink(name, bulkKeyOf(name)), 'UNLINK')) > 0
  }

  /** Deletes the blocks whose key starts with `prefix` (and their leases), scanning every master. */
  async deletePrefix(prefix: Uint8Array): Promise<number> {
    this.check()
    return this.scanDelete(keyPattern(this.config.keyPrefix, prefix))
  }

  /**
   * Deletes every key under `keyPrefix` on every master. The cluster is shared: this empties
   * it for every node (the tiered cache never calls it; an operator may).
   */
  async clear(): Promise<void> {
    this.check()
    await this.scanDelete(keyPattern(this.config.keyPrefix))
  }

  /** SCAN + UNLINK on each master, each step bounded; resolves to the values (not leases) removed. */
  private async scanDelete(pattern: string): Promise<number> {
    const counts = await Promise.all(this.client.nodes('master').map((node) => this.scanDeleteOn(node, pattern)))
    return counts.reduce((a, b) => a + b, 0)
  }

  private async scanDeleteOn(node: Redis, pattern: string): Promise<number> {
    let cursor = '0'
    let removed = 0
    do {
      const [next, names] = await this.bounded(node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT), 'SCAN')
      cursor = next
      if (names.length === 0) continue
      // One UNLINK per key: keys of different slots cannot share a command, even on one node.
      const replies = await this.bounded(node.pipeline(names.map((name) => ['unlink', name])).exec(), 'UNLINK')
      names.forEach((name, i) => {
        if (isValueKey(name) && replies?.[i]?.[0] === null && replies[i]![1] === 1) removed++
      })
    } while (cursor !== '0')
    return removed
  }

  /** The cluster's memory and keys as last read (refreshed in the background at most every 5 s; see cluster-usage.ts). */
  usage() {
    const { usedBytes, maxBytes, entries } = this.usageSnapshot.current(this.connected && !this.closed)
    return { usedBytes, maxBytes, entries }
  }

  stats(): TierStats {
    const usage = this.usageSnapshot.current(this.connected && !this.closed)
    return {
      ...this.counters,
      usedBytes: usage.usedBytes,
      maxBytes: usage.maxBytes,
      entries: usage.entries,
      evictions: usage.evictions,
      cluster: { ...this.counts },
    }
  }

  private async readUsage(): Promise<ClusterUsage> {
    const masters = this.client.nodes('master')
    const infos = await Promise.allSettled(masters.map((node) => this.bounded(node.info('memory', 'stats', 'keyspace'), 'INFO')))
    const read = infos.filter((r): r is PromiseFulfilledResult<string> => r.status === 'fulfilled').map((r) => parseInfo(r.value))
    if (read.length === 0 && infos.length > 0) throw (infos[0] as PromiseRejectedResult).reason
    return sumUsage(read)
  }

  /** Disconnects (a QUIT bounded by the command timeout). Stats stay readable. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.bulks?.close()
    if (this.connected) await this.bounded(this.client.quit(), 'QUIT').catch(() => {})
    this.client.disconnect()
  }

  private check(): void {
    if (this.closed) throw new ClosedError('cluster tier')
    if (!this.connected) throw new ClusterError('not connected: init() has not succeeded')
  }

  private bounded<T>(promise: Promise<T>, what: string, signal?: AbortSignal): Promise<T> {
    return bounded(promise, this.config.commandTimeoutMs, what, this.config.password, signal)
  }

  /** Counts an error the tier absorbed (a background drop, a usage read, a lease poll). */
  private absorbed(err: unknown): void {
    this.counters.errors++
    this.counters.lastError = messageOf(err, this.config.password)
  }
}
