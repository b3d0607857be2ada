/**
 * A read plan through a real BlockReader, seen from the source (a FaultySource over a
 * MemorySource records every request, and holds them when told): blocks are fetched ahead in
 * plan order and the planned random reads then find them; the walk goes no further than the
 * cache can keep and spends no more than the prefetch budget; without a plan random reads
 * fetch nothing ahead; a rank given a node-wide plan fetches only its share; a new plan
 * replaces the old, ending one stops its prefetch, and closing the reader ends its plan.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, KiB, MiB, type BlockReaderOptions, type ObjectHandle, type ObjectInfo, type PlannedRead } from '../lib/index.js'
import { FaultySource, MemorySource, seededRandom } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'
import { errorLike } from './support/expect-error.js'

const BS = 64 * KiB
const OBJECTS = 4
const BLOCKS = 16

interface Setup {
  reader: BlockReader
  faults: FaultySource
  objects: ObjectInfo[]
  /** The blocks the source was asked for, as `object:block`, in order. */
  asked(): string[]
  handles(): Promise<Map<ObjectInfo, ObjectHandle>>
}

function setup(options: BlockReaderOptions, faulty: ConstructorParameters<typeof FaultySource>[1] = {}): Setup {
  const mem = new MemorySource('mem')
  const objects = Array.from({ length: OBJECTS }, (_, o) => mem.put(`mem://plan/${o}`, patternBytes(BLOCKS * BS, o), { mtimeMs: 0 }))
  const faults = new FaultySource(mem, faulty)
  const reader = new BlockReader({ blockSize: BS, sources: [faults], ...options })
  const name = (url: string) => url.slice('mem://plan/'.length)
  return {
    reader,
    faults,
    objects,
    asked: () =>
      faults.requests
        .filter((q) => q.operation === 'read')
        .flatMap((q) => Array.from({ length: Math.ceil((q.end! - q.start!) / BS) }, (_, j) => `${name(q.url)}:${q.start! / BS + j}`)),
    handles: async () => new Map(await Promise.all(objects.map(async (o) => [o, await reader.open(o)] as const))),
  }
}

/** One 100-byte read in each of the objects' blocks, in a seeded random order. */
function shuffledReads(objects: ObjectInfo[], seed: number): PlannedRead[] {
  const reads = objects.flatMap((object) => Array.from({ length: BLOCKS }, (_, b) => ({ object, start: b * BS + 1000, end: b * BS + 1100 })))
  const random = seededRandom(seed)
  for (let i = reads.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[reads[i], reads[j]] = [reads[j]!, reads[i]!]
  }
  return reads
}

const blockName = (read: PlannedRead) => `${read.object.url.slice('mem://plan/'.length)}:${Math.floor(read.start / BS)}`
/** A memory-only reader of 256 blocks: the walk may hold 16 blocks ahead (a sixteenth). */
const MEMORY_ONLY: BlockReaderOptions = { memory: { maxBytes: 256 * BS } }

test('blocks are fetched ahead in plan order, and the planned random reads then find them', async () => {
  const { reader, objects, asked, handles } = setup(MEMORY_ONLY)
  try {
    const reads = shuffledReads(objects, 3)
    const plan = reader.plan(reads)
    await plan.idle()
    assert.equal(asked(), reads.slice(0, 16).map(blockName), 'the first 16 blocks of the plan, in its order')
    const h = await handles()
    for (const read of reads) {
      const bytes = await h.get(read.object)!.read(read.start, read.end - read.start)
      assert.ok(Buffer.from(bytes).equals(patternBytes(BLOCKS * BS, objects.indexOf(read.object)).subarray(read.start, read.end)), blockName(read))
      plan.advance()
      await plan.idle()
    }
    assert.equal(asked(), reads.map(blockName), 'every block fetched once, ahead, in plan order')
    const s = reader.stats().prefetch
    assert.equal([s.issuedBlocks, s.usedBlocks], [64, 64])
  } finally {
    await reader.close()
  }
})

test('without a plan the same random reads fetch nothing ahead', async () => {
  const { reader, objects, asked, handles } = setup(MEMORY_ONLY)
  try {
    const reads = shuffledReads(objects, 3)
    const h = await handles()
    for (const read of reads.slice(0, 10)) await h.get(read.object)!.read(read.start, read.end - read.start)
    assert.equal(asked(), reads.slice(0, 10).map(blockName))
    assert.is(reader.stats().prefetch.issuedBlocks, 0)
  } finally {
    await reader.close()
  }
})

test('the walk stops where the cache could not keep what it fetches: a sixteenth of the disk tier, or the memory tier over it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sluice-plan-prefetch-'))
  try {
    const rows: [string, BlockReaderOptions, number][] = [
      // 8 MiB hold 120 blocks of 64 KiB (68 KiB charged): 7 ahead.
      ['disk tier alone', { cacheDir: join(root, 'a'), memory: { maxBytes: 0 }, disk: { maxBytes: 8 * MiB } }, 7],
      ['a memory tier of 5 blocks over the disk tier stages them', { cacheDir: join(root, 'b'), memory: { maxBytes: 5 * BS }, disk: { maxBytes: 64 * MiB } }, 5],
    ]
    for (const [name, options, ahead] of rows) {
      const { reader, objects, asked } = setup(options)
      try {
        const reads = shuffledReads(objects, 5)
        const plan = reader.plan(reads)
        await plan.idle()
        assert.equal(asked(), reads.slice(0, ahead).map(blockName), name)
        plan.advance(3)
        await plan.idle()
        assert.equal(asked(), reads.slice(0, ahead + 3).map(blockName), `${name}: three reads on, three blocks more`)
      } finally {
        await reader.close()
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

test('the walk spends no more than prefetch.maxInflightBytes, and resumes as fetches land', async () => {
  const { reader, faults, objects, asked } = setup({ ...MEMORY_ONLY, prefetch: { maxInflightBytes: 3 * BS } }, { faults: [{ kind: 'stall' }] })
  try {
    const reads = shuffledReads(objects, 7)
    const plan = reader.plan(reads)
    await faults.whenStalled(3)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(asked(), reads.slice(0, 3).map(blockName), 'three blocks of budget: three requests held')
    faults.setFaults([])
    faults.release()
    await plan.idle()
    assert.equal(asked(), reads.slice(0, 16).map(blockName))
    assert.is(faults.maxReadsInFlight, 3)
  } finally {
    await reader.close()
  }
})

test('with share, a rank fetches ahead only its share of a node-wide plan', async () => {
  const { reader, objects, asked } = setup(MEMORY_ONLY)
  try {
    assert.throws(() => reader.plan([], { share: { index: 2, count: 2 } }), errorLike(RangeError, /share must be \{ index, count \} with integers 0 <= index < count/))
    const reads = shuffledReads(objects, 9)
    // Blocks are numbered by object, in the order the plan first reads each object.
    const order = [...new Set(reads.map((r) => r.object))]
    const number = (r: PlannedRead) => order.indexOf(r.object) * BLOCKS + Math.floor(r.start / BS)
    const plan = reader.plan(reads, { share: { index: 1, count: 3 } })
    await plan.idle()
    assert.equal(asked(), reads.slice(0, 16).filter((r) => number(r) % 3 === 1).map(blockName))
  } finally {
    await reader.close()
  }
})

test('a new plan replaces the old; an ended plan stops and ignores its calls; close ends the plan', async () => {
  const { reader, objects, asked } = setup(MEMORY_ONLY)
  const first = reader.plan(shuffledReads(objects.slice(0, 2), 1))
  await first.idle()
  assert.is(asked().length, 16)
  const reads = shuffledReads(objects.slice(2), 2)
  const second = reader.plan(reads)
  assert.ok(first.ended, 'replaced')
  first.advance(3)
  assert.is(first.position, 0, 'an ended plan ignores advance')
  await second.idle()
  assert.equal(asked().slice(16), reads.slice(0, 16).map(blockName), 'the new plan alone is followed')
  assert.throws(() => reader.plan([{ object: objects[0]!, start: 10, end: 5 }]), errorLike(RangeError, /read 0 of mem:\/\/plan\/0 has range \[10, 5\)/))
  assert.not.ok(second.ended, 'a plan that fails to build leaves the current one in place')
  second.end()
  assert.ok(second.ended)
  second.advance(10)
  await second.idle()
  assert.is(asked().length, 32, 'nothing more fetched once ended')
  const third = reader.plan(reads)
  await reader.close()
  assert.ok(third.ended, 'closing the reader ends its plan')
})

test.run()
