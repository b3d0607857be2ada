/**
 * Fill leases on the cluster tier: one node fetches a block from object storage for the whole
 * training cluster, the others wait for its value (block-store.ts, FillLeases).
 *
 * A lease is a key beside the value, in the same slot (cluster-value.ts), set with
 * `NX PX leaseMs` to this process's random token. One Lua script per block claims it in one
 * round trip, and says when the value is already there (no lease is taken then); the holder
 * claiming again renews its lease. Release is
 * compare-and-delete: a process that outlived its lease cannot drop the next holder's.
 *
 * A lease on one Redis primary is not a distributed lock (a failover can lose it, a paused
 * holder can outlive it), and need not be: blocks are content-addressed and verified, so two
 * nodes fetching the same block only waste one GET. The lease only has to make the common
 * case (hundreds of nodes missing the same block at the start of an epoch) one fetch.
 *
 * Waiting polls, from 5 ms doubling to 100 ms, until the value appears, the lease is gone
 * without a value (the holder failed or died: the caller fetches itself), or `maxWaitMs`
 * runs out. Each poll is one script per block that only answers which of the two keys
 * exists; the value itself is read once, when it is there. A poll that fails ends the wait
 * for the blocks it asked about: the caller fetches them.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { AbortError } from '../errors.js'
import type { FillLeases } from './block-store.js'
import type { ScriptDefinition } from './cluster-client.js'
import type { ClusterTierCounts } from '../types.js'

/** KEYS: value, lease. ARGV: token, leaseMs. 1: this process holds the lease; 0: another does; 2: the value is there. */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
local holder = redis.call('GET', KEYS[2])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[2], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1`

/** KEYS: lease. ARGV: token. Deletes the lease only if this process holds it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** KEYS: value, lease. 2: the value is there; 1: still leased; 0: neither. */
const LEASE_STATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
return redis.call('EXISTS', KEYS[2])`

export const LEASE_SCRIPTS: Record<string, ScriptDefinition> = {
  sluiceAcquire: { lua: ACQUIRE, numberOfKeys: 2 },
  sluiceRelease: { lua: RELEASE, numberOfKeys: 1 },
  sluiceLeaseState: { lua: LEASE_STATE, numberOfKeys: 2 },
}

/** The commands ioredis defines from LEASE_SCRIPTS. */
export interface LeaseCommands {
  sluiceAcquire(valueKey: string, leaseKey: string, token: string, leaseMs: number): Promise<number>
  sluiceRelease(leaseKey: string, token: string): Promise<number>
  sluiceLeaseState(valueKey: string, leaseKey: string): Promise<number>
}

/** What the leases need from the store that owns them. */
export interface LeaseHost {
  readonly commands: LeaseCommands
  readonly token: string
  readonly leaseMs: number
  readonly maxWaitMs: number
  readonly counts: ClusterTierCounts
  /** The value and lease key names of a block. */
  names(key: Uint8Array): { value: string; lease: string }
  /** One bounded round trip (ClusterError on failure or timeout, AbortError on abort). */
  bounded<T>(promise: Promise<T>, what: string, signal?: AbortSignal): Promise<T>
  /** Verified values (counted as hits), undefined where absent or refused. */
  readVerified(keys: Uint8Array[], signal?: AbortSignal): Promise<(Uint8Array | undefined)[]>
  /** Counts an error the tier absorbed instead of throwing. */
  absorbed(err: unknown): void
  /** Throws if the store cannot be used (closed, not connected). */
  check(): void
}

const FIRST_POLL_MS = 5
const MAX_POLL_MS = 100
/** An acquire the cluster refused for memory (OOM): no lease, the caller fetches. */
const UNAVAILABLE = -1

export class ClusterFillLeases implements FillLeases {
  constructor(private readonly host: LeaseHost) {}

  async acquire(keys: Uint8Array[]): Promise<boolean[]> {
    this.host.check()
    const { commands, token, leaseMs } = this.host
    const answers = await this.host.bounded(
      Promise.all(keys.map((key) => {
        const { value, lease } = this.host.names(key)
        // A full cluster under noeviction refuses the lease's SET: no lease can be had, and
        // this node fetches the block itself, as without a cluster (it is not an error).
        return commands.sluiceAcquire(value, lease, token, leaseMs).catch((err: unknown) => {
          if (/\bOOM\b/.test((err as Error)?.message ?? '')) return UNAVAILABLE
          throw err
        })
      })),
      'acquiring fill leases',
    )
    const won = answers.map((a) => a === 1 || a === UNAVAILABLE)
    this.host.counts.leasesWon += answers.filter((a) => a === 1).length
    this.host.counts.leasesUnavailable += answers.filter((a) => a === UNAVAILABLE).length
    return won
  }

  async release(keys: Uint8Array[]): Promise<void> {
    this.host.check()
    const { commands, token } = this.host
    await this.host.bounded(Promise.all(keys.map((key) => commands.sluiceRelease(this.host.names(key).lease, token))), 'releasing fill leases')
  }

  async waitFor(keys: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<(Uint8Array | undefined)[]> {
    this.host.check()
    const { signal } = options
    const counts = this.host.counts
    const out: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(keys.length).fill(undefined)
    counts.leasesWaited += keys.length
    let pending = keys.map((_, i) => i)
    const deadline = Date.now() + this.host.maxWaitMs
    let delay = FIRST_POLL_MS
    while (pending.length > 0) {
      let states: number[]
      try {
        states = await this.host.bounded(Promise.all(pending.map((i) => this.state(keys[i]!))), 'polling fill leases', signal)
      } catch (err) {
        if (err instanceof AbortError) throw err
        this.host.absorbed(err)
        break
      }
      const present = pending.filter((_, j) => states[j] === 2)
      const expired = pending.filter((_, j) => states[j] === 0)
      pending = pending.filter((_, j) => states[j] === 1)
      counts.leasesExpired += expired.length
      if (present.length > 0) {
        const values = await this.read(present.map((i) => keys[i]!), signal)
        present.forEach((i, j) => {
          out[i] = values[j]
          if (values[j] !== undefined) counts.leasesFilled++
        })
      }
      if (pending.length === 0) break
      if (Date.now() + delay > deadline) {
        counts.leaseTimeouts += pending.length
        break
      }
      try {
        await sleep(delay, undefined, signal === undefined ? undefined : { signal })
      } catch {
        throw new AbortError(undefined, signal?.reason)
      }
      delay = Math.min(delay * 2, MAX_POLL_MS)
    }
    return out
  }

  private state(key: Uint8Array): Promise<number> {
    const { value, lease } = this.host.names(key)
    return this.host.commands.sluiceLeaseState(value, lease)
  }

  /** Values that appeared; a failed read leaves them undefined (the caller fetches them). */
  private async read(keys: Uint8Array[], signal: AbortSignal | undefined): Promise<(Uint8Array | undefined)[]> {
    try {
      return await this.host.readVerified(keys, signal)
    } catch (err) {
      if (err instanceof AbortError) throw err
      this.host.absorbed(err)
      return keys.map(() => undefined)
    }
  }
}
