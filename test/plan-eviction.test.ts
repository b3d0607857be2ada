/**
 * The tiers under a read plan: Belady's rule in the memory tier and in the disk tier (real
 * LMDB files, filling on the reader's thread and with a writer thread configured). The
 * victim is the block read furthest ahead, blocks the plan does not read go first, a fill
 * read later than everything held is refused, the keeping role judges a fill by the read
 * after the one it is fetched for, the disk tier finds plan blocks it never saw filled, its
 * usage and main-queue bytes stay exact, and ending the plan gives the tier its own policy.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LmdbBlockStore, MemoryBlockStore } from '../lib/index.js'
import { chargedBytes } from '../lib/cache/lmdb-block-store.js'
import { BLOCK_DATA, dataset, passes } from './support/block-passes.js'
import { accounts } from './support/lmdb-accounts.js'
import { keyOf, planObject, readOf, standalonePlan } from './support/plan.js'
import type { ObjectInfo } from '../lib/index.js'

const test = suite('plan-eviction')
const BS = 64 * 1024
const [A, B, C, D, E, X, Y] = ['a', 'b', 'c', 'd', 'e', 'x', 'y'].map((n) => planObject(n, 1, BS)) as [ObjectInfo, ObjectInfo, ObjectInfo, ObjectInfo, ObjectInfo, ObjectInfo, ObjectInfo]
const key = (o: ObjectInfo) => keyOf(o, 0, BS)
const plan = (...objects: ObjectInfo[]) => standalonePlan(objects.map((o) => readOf(o, 0, BS)), BS)
const block = Buffer.alloc(BS, 1)

function memory(blocks: number): MemoryBlockStore {
  return new MemoryBlockStore(blocks * BS)
}
const holds = (s: { has(k: Uint8Array): boolean }, ...objects: ObjectInfo[]) => objects.map((o) => s.has(key(o)))

test('memory: the victim is the block read furthest ahead; a block read later than all is refused', async () => {
  const s = memory(3)
  const p = plan(A, B, C, D, A, C, B)
  s.followPlan(p, 'stage')
  for (const o of [C, A, B]) assert.ok(await s.put(key(o), block)) // C is the oldest, A will be the furthest
  assert.is(await s.put(key(X), block), false, 'a block outside the plan does not displace plan blocks')
  p.advance() // A read; next at 4
  assert.ok(await s.put(key(D), block), 'D (next read at 3) displaces A (at 4)')
  assert.equal(holds(s, A, B, C, D), [false, true, true, true])
  assert.is(await s.put(key(A), block), false, 'A (at 4) is read after everything held (B 1, C 2, D 3)')
  assert.equal([s.stats().evictions, s.stats().droppedFills], [1, 2])
  assert.is(s.wouldKeep(key(A), BS), false, 'and says so when asked')
})

test('memory: blocks outside the plan are evicted first, oldest first', async () => {
  const s = memory(3)
  await s.put(key(X), block)
  await s.put(key(Y), block)
  s.followPlan(plan(A, B, C, A), 'stage')
  for (const o of [A, B, C]) assert.ok(await s.put(key(o), block))
  assert.equal(holds(s, X, Y, A, B, C), [false, false, true, true, true])
  assert.equal(s.stats().evictions, 2)
})

test('memory: keeping judges a fill by the read after the one it is fetched for; staging by that read', async () => {
  for (const [role, kept] of [['stage', true], ['keep', false]] as const) {
    const s = memory(2)
    s.followPlan(plan(C, A, B, C), role)
    await s.put(key(A), block)
    await s.put(key(B), block)
    // C is read now (0) and again at 3, after A (1) and B (2).
    assert.is(await s.put(key(C), block), kept, role)
    assert.equal(holds(s, A, B, C), [true, !kept, kept], role)
  }
})

test('memory: ending the plan gives the LRU queues back their blocks, and fills are never refused', async () => {
  const s = memory(3)
  const p = plan(A, B, C, A)
  s.followPlan(p, 'stage')
  for (const o of [A, B, C]) await s.put(key(o), block)
  s.followPlan(undefined, 'stage')
  p.end()
  assert.ok(await s.put(key(X), block))
  assert.ok(await s.put(key(Y), block))
  assert.equal(holds(s, A, B, C, X, Y), [false, false, true, true, true], 'evicted in LRU order')
  assert.is(s.stats().droppedFills, 0)
  assert.ok(s.wouldKeep(key(D), BS), 'without a plan every fill is kept')
})

let root: string
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-plan-eviction-'))
})
test.after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('memory: a fill the plan refuses after taking a block out puts it back', async () => {
  // T is an object's short last block, read last; the full fill C needs T's room and B's.
  const T: ObjectInfo = { url: 'mem://plan/t', size: 1000, version: 'v1' }
  const s = new MemoryBlockStore(BS + 1000)
  s.followPlan(plan(B, C, C, T), 'stage')
  assert.ok(await s.put(key(T), Buffer.alloc(1000, 3)))
  assert.ok(await s.put(key(B), block))
  assert.is(await s.put(key(C), block), false, 'C (read at 1) would need B (read at 0) out too')
  assert.equal(holds(s, T, B, C), [true, true, false], 'T is back')
  assert.equal([s.stats().evictions, s.stats().usedBytes], [0, BS + 1000])
})

async function disk(blocks: number, writerThread: boolean): Promise<{ s: LmdbBlockStore; path: string }> {
  const path = await mkdtemp(join(root, 'tier-'))
  const s = new LmdbBlockStore({ path, maxBytes: blocks * chargedBytes(BLOCK_DATA), blockSize: BS, writerThread })
  await s.init()
  return { s, path }
}
const data = Buffer.alloc(BLOCK_DATA, 2)

for (const writerThread of [false, true]) {
  const where = writerThread ? 'disk (writer thread configured)' : 'disk'

  test(`${where}: the victim is the block read furthest after; a fill read later than all is refused`, async () => {
    const { s, path } = await disk(3, writerThread)
    // A B C D E D A C B E: at step 3 D is read now and again at 5, E at 4 and 9.
    const p = plan(A, B, C, D, E, D, A, C, B, E)
    s.followPlan(p, 'keep')
    for (const o of [A, B, C]) assert.ok(await s.put(key(o), data))
    p.advance(3)
    assert.ok(s.wouldKeep(key(D), BLOCK_DATA))
    assert.is(s.wouldKeep(key(E), BLOCK_DATA), false)
    assert.ok(await s.put(key(D), data), 'D (again at 5) displaces B (at 8)')
    assert.equal(holds(s, A, B, C, D), [true, false, true, true])
    assert.is(await s.put(key(E), data), false, 'E (again at 9) is kept out: A 6, C 7, D 5')
    assert.equal([s.stats().evictions, s.stats().droppedFills, s.usage().entries], [1, 1, 3])
    await s.close()
    const a = await accounts(path)
    assert.equal([a.usage, a.mainUsage], [a.used, a.main])
  })

  test(`${where}: blocks outside the plan go first; plan blocks filled before it are found`, async () => {
    const { s } = await disk(4, writerThread)
    for (const o of [A, X, B, C]) await s.put(key(o), data) // filled before the plan: unknown to it
    const p = plan(A, B, C, D, E, D, A, C, B)
    s.followPlan(p, 'keep')
    p.advance(3)
    assert.ok(await s.put(key(D), data), 'D (again at 5) displaces X, which the plan does not read, before B (at 8)')
    assert.equal(holds(s, X, A, B, C, D), [false, true, true, true, true])
    p.advance() // E is read now, and never again
    assert.is(await s.put(key(E), data), false, 'E is kept out: every block held is read again')
    assert.equal(holds(s, A, B, C, D, E), [true, true, true, true, false])
    await s.close()
  })

  test(`${where}: evicting by the plan, main blocks included, keeps usage and main's bytes exact`, async () => {
    const { s: first, path } = await disk(16, writerThread)
    const loop = dataset('loop', 32)
    await passes(first, [loop, loop, loop])
    await first.close()
    const promoted = await accounts(path)
    assert.ok(promoted.main > 0, `the admission policy promoted blocks to main: ${JSON.stringify(promoted)}`)
    // A new process on the same tier, with a plan over the same blocks in another order.
    const s = new LmdbBlockStore({ path, maxBytes: 16 * chargedBytes(BLOCK_DATA), blockSize: BS, writerThread })
    await s.init()
    const object: ObjectInfo = { url: 's3://admission/loop', version: '"v1"', size: 1 << 30 }
    const order = Array.from({ length: 96 }, (_, i) => (i * 7) % 32)
    const p = standalonePlan(order.map((i) => readOf(object, i, BS)), BS)
    s.followPlan(p, 'keep')
    for (const i of order) {
      if (!s.has(loop[i]!)) await s.put(loop[i]!, data)
      p.advance()
    }
    assert.ok(s.stats().evictions > 0)
    s.followPlan(undefined, 'keep')
    p.end()
    await passes(s, [dataset('after', 8)]) // the admission policy again, over what the plan left
    await s.close()
    const a = await accounts(path)
    assert.equal([a.usage, a.mainUsage], [a.used, a.main], JSON.stringify(a))
  })
}

test('disk: a fill the plan refuses after taking a block out leaves the tier as it was (the child transaction is undone)', async () => {
  const T: ObjectInfo = { url: 'mem://plan/t', size: 1000, version: 'v1' }
  const path = await mkdtemp(join(root, 'tier-'))
  const s = new LmdbBlockStore({ path, maxBytes: chargedBytes(BLOCK_DATA) + chargedBytes(1000), blockSize: BS })
  await s.init()
  s.followPlan(plan(B, C, A, C, T), 'keep')
  assert.ok(await s.put(key(T), Buffer.alloc(1000, 3)))
  assert.ok(await s.put(key(B), data))
  const before = s.usage()
  // Kept, C is judged by its read at 3: T (read at 4) goes, then B (read at 0) would have to.
  assert.is(await s.put(key(C), data), false, 'C would need B out too')
  assert.equal(holds(s, T, B, C), [true, true, false], 'T is still there')
  assert.equal(s.usage(), before)
  assert.is(s.stats().evictions, 0)
  await s.close()
  const kept = await accounts(path)
  assert.equal([kept.usage, kept.used], [before.usedBytes, before.usedBytes], JSON.stringify(kept))
  await rm(path, { recursive: true, force: true })
})

test.run()
