/**
 * The memory tier over the disk tier, as one cache. Lookups ask memory first, then disk, and
 * promote disk hits into memory. Fills go into memory at once and into the disk tier behind
 * the reader through a write-behind budget: the LMDB write path can be slower than the
 * network, and a slow disk must never slow a read, so past the budget a disk fill is dropped
 * and counted (the block is simply fetched again next time).
 *
 * A block whose disk fill is still queued is served from the queue: with a memory tier too
 * small to keep it (or none), it would otherwise be in no tier between leaving the reader's
 * in-flight map and landing on disk, and a read in that gap would fetch it again.
 *
 * Each tier has a TierHealth: repeated errors bypass it for a while and show up in stats; the
 * reader carries on from the source. Nothing here throws to a reader because of a tier.
 */
import { keyString } from './block-key.js'
import type { LmdbBlockStore } from './lmdb-block-store.js'
import type { CachedObjectRecord } from './lmdb-layout.js'
import type { MemoryBlockStore } from './memory-block-store.js'
import { TierHealth, type TierHealthOptions } from './tier-health.js'
import type { TierStats } from '../types.js'

export interface TieredBlockCacheOptions {
  /** Bytes of disk fills allowed in flight before further fills are dropped. Default 256 MiB. */
  maxPendingWriteBytes?: number
  health?: TierHealthOptions
}

export class TieredBlockCache {
  readonly diskHealth: TierHealth
  private pendingWriteBytes = 0
  private readonly maxPendingWriteBytes: number
  private readonly pending = new Set<Promise<unknown>>()
  /** Blocks whose disk fill is queued, by key string: already counted in pendingWriteBytes. */
  private readonly writing = new Map<string, Uint8Array>()

  constructor(
    readonly memory: MemoryBlockStore | undefined,
    readonly disk: LmdbBlockStore | undefined,
    options: TieredBlockCacheOptions = {},
  ) {
    this.maxPendingWriteBytes = options.maxPendingWriteBytes ?? 256 * 1024 * 1024
    this.diskHealth = new TierHealth(options.health)
  }

  /** The block from the fastest tier that has it, verified; undefined on a miss everywhere. */
  get(key: Uint8Array): Uint8Array | undefined {
    const hit = this.memory?.getSync(key)
    if (hit !== undefined) return hit
    const queued = this.writing.size > 0 ? this.writing.get(keyString(key)) : undefined
    if (queued !== undefined) return queued
    if (!this.disk || !this.diskHealth.usable()) return undefined
    let block: Uint8Array | undefined
    try {
      block = this.disk.getSync(key)
      this.diskHealth.success()
    } catch (err) {
      this.diskHealth.failure(err)
      return undefined
    }
    if (block !== undefined) this.memory?.putSync(key, block)
    return block
  }

  /**
   * Copies `[from, to)` of a cached block into `target`. With no memory tier to promote into,
   * a disk hit is copied straight out of LMDB's read buffer (no allocation). False on a miss.
   */
  copyInto(key: Uint8Array, target: Uint8Array, targetOffset: number, from: number, to: number, expectedLength: number): boolean {
    if (this.memory || !this.disk) {
      const block = this.get(key)
      if (block === undefined || block.length !== expectedLength) return false
      target.set(block.subarray(from, to), targetOffset)
      return true
    }
    const queued = this.writing.size > 0 ? this.writing.get(keyString(key)) : undefined
    if (queued !== undefined) {
      if (queued.length !== expectedLength) return false
      target.set(queued.subarray(from, to), targetOffset)
      return true
    }
    if (!this.diskHealth.usable()) return false
    try {
      const copied = this.disk.copyVerifiedSync(key, target, targetOffset, from, to, expectedLength)
      this.diskHealth.success()
      return copied
    } catch (err) {
      this.diskHealth.failure(err)
      return false
    }
  }

  has(key: Uint8Array): boolean {
    if (this.memory?.has(key)) return true
    if (this.writing.size > 0 && this.writing.has(keyString(key))) return true
    if (!this.disk || !this.diskHealth.usable()) return false
    try {
      return this.disk.has(key)
    } catch (err) {
      this.diskHealth.failure(err)
      return false
    }
  }

  /**
   * Stores a fetched block. Memory takes it now; the disk write runs behind the caller.
   * With `waitForDisk` the disk write is awaited and never dropped for the budget (preload).
   * `object` describes the block's object, for the disk tier's records.
   * Resolves true if the disk tier (or memory, when there is no disk tier) holds the block.
   */
  put(key: Uint8Array, bytes: Uint8Array, options: { waitForDisk?: boolean; memory?: boolean; object?: CachedObjectRecord } = {}): Promise<boolean> {
    if (options.memory !== false) this.memory?.putSync(key, bytes)
    if (!this.disk) return Promise.resolve(this.memory?.has(key) ?? false)
    if (!this.diskHealth.usable()) return Promise.resolve(false)
    if (!options.waitForDisk && this.pendingWriteBytes + bytes.length > this.maxPendingWriteBytes) {
      this.disk.countDroppedFill()
      return Promise.resolve(false)
    }
    this.pendingWriteBytes += bytes.length
    const ks = keyString(key)
    this.writing.set(ks, bytes)
    const write = this.disk
      .put(key, bytes, options.object)
      .then(
        (stored) => {
          this.diskHealth.success()
          return stored
        },
        (err: unknown) => {
          this.diskHealth.failure(err)
          return false
        },
      )
      .finally(() => {
        this.pendingWriteBytes -= bytes.length
        this.pending.delete(write)
        if (this.writing.get(ks) === bytes) this.writing.delete(ks)
      })
    this.pending.add(write)
    return write
  }

  /** Waits for every disk fill queued so far (not those queued meanwhile: it must return under load). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending])
  }

  async deletePrefix(prefix: Uint8Array): Promise<number> {
    const ps = keyString(prefix)
    for (const ks of this.writing.keys()) if (ks.startsWith(ps)) this.writing.delete(ks)
    const fromMemory = (await this.memory?.deletePrefix(prefix)) ?? 0
    const fromDisk = (await this.disk?.deletePrefix(prefix)) ?? 0
    return Math.max(fromMemory, fromDisk)
  }

  stats(): TierStats[] {
    const out: TierStats[] = []
    if (this.memory) out.push(this.memory.stats())
    if (this.disk) {
      const s = this.disk.stats()
      const { lastError } = this.diskHealth
      let objects: number | undefined
      try {
        objects = this.disk.objectCount()
      } catch {
        objects = undefined
      }
      out.push({
        ...s,
        ...(objects === undefined ? {} : { objects }),
        errors: s.errors + this.diskHealth.errors,
        healthy: this.diskHealth.healthy,
        ...(lastError !== undefined ? { lastError } : s.lastError !== undefined ? { lastError: s.lastError } : {}),
      })
    }
    return out
  }

  pendingBytes(): number {
    return this.pendingWriteBytes
  }


  async close(): Promise<void> {
    await this.flush()
    await this.memory?.close()
    await this.disk?.close()
  }
}
