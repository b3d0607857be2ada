/**
 * The objects a read plan reads, and the numbering of their blocks that the plan's arrays
 * are indexed by. Each distinct object version gets its blocks numbered consecutively from
 * its `firstBlock`, so a block is one integer: a plan step stores integers, never keys.
 *
 * Both directions are cheap because the tiers ask in both: a tier holds a block key (the
 * object id, 16 bytes, then the index) and asks for its number (a map lookup on the id
 * prefix and four character codes); the plan's heaps hold numbers and name their victims as
 * keys (a binary search over the objects, which are few: shards, not records). Objects are
 * pinned through the reader as `open` pins them, so keys agree with the handles' and
 * `evict(url)` reaches blocks the plan fetched.
 */
import { OBJECT_ID_BYTES, blockKey, keyString } from '../cache/block-key.js'
import type { PinnedObject } from '../object-handle.js'
import type { ObjectInfo } from '../types.js'
import { NONE } from './u32-list.js'

export class PlanObjects {
  readonly list: PinnedObject[] = []
  /** Number of each object's block 0, ascending. */
  private readonly firstBlocks: number[] = []
  /** Blocks numbered so far. */
  totalBlocks = 0
  /** Lookups by the caller's ObjectInfo (loaders pass one per shard, over and over). */
  private readonly byInfo = new Map<ObjectInfo, number>()
  /** Lookups by URL, version and size, for callers that build a fresh ObjectInfo per read. */
  private readonly byIdentity = new Map<string, number>()
  /** Lookups by object id (latin1 key string prefix), for the tiers. */
  private readonly byId = new Map<string, number>()

  constructor(
    readonly blockSize: number,
    /** Pins an object version as the reader's `open` does (canonical URL in, id out). */
    private readonly pin: (info: ObjectInfo) => PinnedObject,
  ) {}

  /** The object's number, pinning it the first time it is seen. */
  intern(info: ObjectInfo): number {
    const known = this.byInfo.get(info)
    if (known !== undefined) return known
    const identity = `${info.url}\n${info.version}\n${info.size}`
    let n = this.byIdentity.get(identity)
    if (n === undefined) {
      const pinned = this.pin(info)
      const id = keyString(pinned.id)
      n = this.byId.get(id)
      if (n === undefined) {
        if (this.totalBlocks + pinned.blockCount >= NONE) throw new RangeError(`read plan: more than ${NONE - 1} blocks`)
        n = this.list.length
        this.list.push(pinned)
        this.firstBlocks.push(this.totalBlocks)
        this.totalBlocks += pinned.blockCount
        this.byId.set(id, n)
      }
      this.byIdentity.set(identity, n)
    }
    this.byInfo.set(info, n)
    return n
  }

  firstBlock(object: number): number {
    return this.firstBlocks[object]!
  }

  /** The number of the block with this key string, or -1 when it is no block of the plan's objects. */
  blockOf(ks: string): number {
    if (ks.length !== OBJECT_ID_BYTES + 4) return -1
    const object = this.byId.get(ks.slice(0, OBJECT_ID_BYTES))
    if (object === undefined) return -1
    const c = (i: number) => ks.charCodeAt(OBJECT_ID_BYTES + i)
    const index = ((c(0) << 24) | (c(1) << 16) | (c(2) << 8) | c(3)) >>> 0
    return index < this.list[object]!.blockCount ? this.firstBlocks[object]! + index : -1
  }

  /** The object a block number belongs to. */
  objectOf(block: number): number {
    let lo = 0
    let hi = this.firstBlocks.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.firstBlocks[mid]! <= block) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** The block key of a block number. */
  keyOf(block: number): Uint8Array {
    const object = this.objectOf(block)
    return blockKey(this.list[object]!.id, block - this.firstBlocks[object]!)
  }

  /** Bytes of block `block` (the last block of an object may be short). */
  blockBytes(block: number): number {
    const object = this.objectOf(block)
    const pinned = this.list[object]!
    return Math.min(this.blockSize, pinned.info.size - (block - this.firstBlocks[object]!) * this.blockSize)
  }
}
