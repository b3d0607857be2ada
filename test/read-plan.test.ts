/**
 * The read plan's own bookkeeping (lib/plan/): each block's next use and the use after it as
 * the consumer advances, reads that share a block, extending with the next epoch, refusal of
 * bad reads, the tiers' next-use heap, and the memory a plan costs: its typed arrays, counted
 * by their byteLength, for a plan of millions of reads and for one extended epoch after epoch.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, MemorySource, MiB, type PlannedRead } from '../lib/index.js'
import { seededRandom } from '../lib/testing/index.js'
import { errorLike } from './support/expect-error.js'
import { ksOf, planObject, readOf, standalonePlan } from './support/plan.js'

const BS = 4096
const A = planObject('a', 2, BS)
const B = planObject('b', 1, BS)
const C = planObject('c', 1, BS)
const r = (o: typeof A, i: number) => readOf(o, i, BS)
const ks = (o: typeof A, i: number) => ksOf(o, i, BS)

test('next uses follow the consumer: the next read of each block, the one after it, Infinity past the last', () => {
  const plan = standalonePlan([r(A, 0), r(B, 0), r(A, 0), r(A, 1), r(B, 0)], BS)
  const uses = () => [ks(A, 0), ks(A, 1), ks(B, 0)].map((k) => [plan.nextUse(k), plan.useAfterNext(k)])
  assert.equal(uses(), [[0, 2], [3, Infinity], [1, 4]])
  assert.is(plan.nextUse(ks(C, 0)), Infinity, 'a block of an object outside the plan')
  assert.is(plan.nextUse(ksOf(A, 2, BS)), Infinity, 'an index past the object')
  plan.advance()
  assert.equal(uses(), [[2, Infinity], [3, Infinity], [1, 4]])
  plan.advance(2)
  assert.equal(uses(), [[Infinity, Infinity], [3, Infinity], [4, Infinity]])
  plan.advance(2)
  assert.equal(uses(), [[Infinity, Infinity], [Infinity, Infinity], [Infinity, Infinity]])
  assert.is(plan.position, 5)
  assert.is(plan.length, 5)
})

test('reads inside one block share its entry: the block is next until the last of them is done', () => {
  const reads: PlannedRead[] = [
    { object: A, start: 0, end: 10 },
    { object: A, start: 10, end: 20 },
    { object: A, start: 20, end: BS + 5 }, // ends in block 1
    { object: A, start: BS + 5, end: BS + 9 },
    { object: B, start: 0, end: 0 }, // empty: no block
  ]
  const plan = standalonePlan(reads, BS)
  assert.equal([plan.nextUse(ks(A, 0)), plan.nextUse(ks(A, 1)), plan.nextUse(ks(B, 0))], [0, 1, Infinity])
  plan.advance(2)
  assert.is(plan.nextUse(ks(A, 0)), 0, 'the third read still needs block 0')
  plan.advance()
  assert.equal([plan.nextUse(ks(A, 0)), plan.nextUse(ks(A, 1))], [Infinity, 1], 'block 1 is shared with the fourth read')
  plan.advance()
  assert.is(plan.nextUse(ks(A, 1)), Infinity)
  plan.advance()
  assert.is(plan.position, 5)
})

test('extend appends the next epoch: a block with no use left gets one', () => {
  const plan = standalonePlan([r(A, 0), r(B, 0)], BS)
  plan.advance(2)
  assert.is(plan.nextUse(ks(A, 0)), Infinity)
  plan.extend([r(B, 0), r(A, 0)])
  assert.equal([plan.length, plan.position], [4, 2])
  assert.equal([plan.nextUse(ks(B, 0)), plan.nextUse(ks(A, 0))], [2, 3])
  plan.extend([r(C, 0), r(A, 0)])
  assert.equal([plan.nextUse(ks(C, 0)), plan.useAfterNext(ks(A, 0))], [4, 5])
})

test('a bad read throws naming it and leaves the plan as it was; advance checks its count', () => {
  const plan = standalonePlan([r(A, 0), r(B, 0)], BS)
  assert.throws(() => plan.extend([r(C, 0), { object: A, start: 5, end: 2 }]), errorLike(RangeError, /read 3 of mem:\/\/plan\/a has range \[5, 2\)/))
  assert.throws(() => plan.extend([{ object: A, start: 0, end: A.size + 1 }]), errorLike(RangeError, /read 2 .* outside \[0, 8192\]/))
  assert.throws(() => plan.extend([{ start: 0, end: 1 } as unknown as PlannedRead]), errorLike(TypeError, /read 2 needs an object \{ url, size, version \}/))
  assert.is(plan.length, 2, 'nothing was appended')
  assert.is(plan.nextUse(ks(C, 0)), Infinity, 'not even the good read before the bad one')
  assert.throws(() => plan.advance(3), errorLike(RangeError, /advance\(3\) from step 0 passes the end of the plan \(2 steps\)/))
  for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => plan.advance(bad), errorLike(RangeError, /advance\(steps\) takes a non-negative integer/))
  assert.is(plan.position, 0)
})

test('an ended plan answers Infinity and ignores later calls', () => {
  const plan = standalonePlan([r(A, 0), r(B, 0)], BS)
  plan.advance()
  plan.end()
  assert.ok(plan.ended)
  assert.equal([plan.length, plan.position, plan.memoryBytes], [2, 1, 0])
  plan.advance(5)
  plan.extend([{ object: A, start: 9, end: 1 }])
  assert.equal([plan.length, plan.position], [2, 1])
  assert.is(plan.nextUse(ks(B, 0)), Infinity)
})

test('the residents heap names the block read furthest ahead, lazily as uses move', () => {
  const plan = standalonePlan([r(A, 0), r(B, 0), r(C, 0), r(A, 0), r(B, 0)], BS)
  const held = plan.residents()
  for (const k of [ks(A, 0), ks(B, 0), ks(C, 0), ks(A, 1)]) held.add(k)
  held.add(ksOf(planObject('elsewhere', 1, BS), 0, BS)) // outside the plan: ignored
  assert.equal(held.furthest(), { ks: ks(A, 1), nextUse: Infinity }, 'a block the plan never reads goes first')
  held.delete(ks(A, 1))
  assert.equal(held.furthest(), { ks: ks(C, 0), nextUse: 2 })
  plan.advance()
  assert.equal(held.furthest(), { ks: ks(A, 0), nextUse: 3 })
  plan.advance()
  assert.equal(held.furthest(), { ks: ks(B, 0), nextUse: 4 })
  plan.advance()
  assert.equal(held.furthest(), { ks: ks(C, 0), nextUse: Infinity }, 'read for the last time')
  held.delete(ks(C, 0))
  const asked: string[] = []
  const gone = ks(B, 0)
  assert.equal(held.furthest((k) => (asked.push(k), k !== gone)), { ks: ks(A, 0), nextUse: 3 }, 'a block the tier no longer holds is skipped')
  assert.equal(asked, [gone, ks(A, 0)])
  assert.equal(held.furthest(), { ks: ks(A, 0), nextUse: 3 }, 'and forgotten')
  held.close()
  assert.is(held.furthest(), undefined)
})

test('the heap sweeps its stale entries: a long plan over few held blocks keeps it small', () => {
  const reads = Array.from({ length: 200_000 }, (_, i) => r(i % 2 === 0 ? A : B, 0))
  const plan = standalonePlan(reads, BS)
  const held = plan.residents()
  held.add(ks(A, 0))
  held.add(ks(B, 0))
  const before = plan.memoryBytes
  for (let i = 0; i < reads.length; i++) plan.advance()
  assert.ok(plan.memoryBytes - before < 64 * 1024, `the heap grew by ${plan.memoryBytes - before} bytes over 200000 moves`)
  assert.is(held.furthest()?.nextUse, Infinity, 'both read for the last time')
})

test('a plan of millions of reads costs its typed arrays: 12 bytes a read and 8 a block', async () => {
  const source = new MemorySource('mem')
  const reader = new BlockReader({ sources: [source], blockSize: 4 * MiB, memory: { maxBytes: 64 * MiB }, prefetch: { maxReadAheadBytes: 0 } })
  try {
    const objects = Array.from({ length: 1000 }, (_, i) => ({ url: `mem://big/${i}`, size: 1024 * MiB, version: 'v1' }))
    const blocks = objects.length * 256
    const steps = 3_000_000
    const random = seededRandom(1)
    function* reads(): Generator<PlannedRead> {
      for (let i = 0; i < steps; i++) {
        const object = objects[Math.floor(random() * objects.length)]!
        const start = Math.floor(random() * (object.size - 100))
        yield { object, start, end: start + 100 }
      }
    }
    const plan = reader.plan(reads())
    assert.is(plan.length, steps)
    const perStep = (plan.memoryBytes - 8 * blocks) / steps
    assert.ok(plan.memoryBytes <= 13 * steps + 9 * blocks, `${plan.memoryBytes} bytes: ${perStep.toFixed(2)} a read beyond 8 a block`)
    assert.ok(plan.memoryBytes >= 12 * steps, `${plan.memoryBytes} bytes: the arrays are counted`)
    plan.advance(steps)
    assert.ok(plan.memoryBytes <= 13 * steps + 10 * blocks, 'consuming it adds next to nothing')
  } finally {
    await reader.close()
  }
})

test('a plan extended epoch after epoch keeps only what is ahead of the consumer', () => {
  const epoch = Array.from({ length: 100_000 }, (_, i) => r(i % 3 === 0 ? A : i % 3 === 1 ? B : C, 0))
  const plan = standalonePlan(epoch, BS)
  const one = plan.memoryBytes
  for (let e = 1; e <= 5; e++) {
    plan.advance(plan.length - plan.position)
    plan.extend(epoch)
    assert.ok(plan.memoryBytes <= 1.5 * one, `epoch ${e}: ${plan.memoryBytes} bytes against ${one} for one epoch`)
  }
  assert.equal([plan.length, plan.position], [600_000, 500_000])
  assert.equal([plan.nextUse(ks(A, 0)), plan.useAfterNext(ks(A, 0))], [500_000, 500_003])
})

test.run()
