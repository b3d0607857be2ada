/**
 * Read plans for tests of the tiers on their own: a real ReaderPlan (the EvictionPlan the
 * tiers consult) over named objects of whole blocks, with a host that pins objects as the
 * reader does and fetches nothing ahead, so a test decides every fill itself.
 */
import { blockKey, keyString, objectId } from '../../lib/cache/block-key.js'
import type { ObjectInfo, PlannedRead } from '../../lib/index.js'
import { ReaderPlan } from '../../lib/plan/read-plan.js'

/** An object of `blocks` whole blocks of `blockSize`, named `name`. */
export function planObject(name: string, blocks: number, blockSize: number): ObjectInfo {
  return { url: `mem://plan/${name}`, size: blocks * blockSize, version: 'v1' }
}

/** A read of one byte in block `index` of `object`. */
export function readOf(object: ObjectInfo, index: number, blockSize: number): PlannedRead {
  return { object, start: index * blockSize, end: index * blockSize + 1 }
}

/** The key string of block `index` of `object`, as the tiers see it. */
export function keyOf(object: ObjectInfo, index: number, blockSize: number): Uint8Array {
  return blockKey(objectId(object.url, object.version, blockSize, object.size), index)
}

export function ksOf(object: ObjectInfo, index: number, blockSize: number): string {
  return keyString(keyOf(object, index, blockSize))
}

/** A plan of `reads` that no reader follows: the tiers are handed it by the test. */
export function standalonePlan(reads: Iterable<PlannedRead>, blockSize: number): ReaderPlan {
  return new ReaderPlan(reads, {
    blockSize,
    maxRunBlocks: 1,
    pin: (info) => ({ info, id: objectId(info.url, info.version, blockSize, info.size), blockCount: Math.ceil(info.size / blockSize) }),
    planEnded: () => {},
    prefetchBlocks: () => 0,
    lookaheadLimits: () => ({ keepingBlocks: 0, stagingBlocks: 0, readAheadBlocks: 0 }),
    holdsUntilRead: () => false,
  })
}
