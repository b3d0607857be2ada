/**
 * Table tests of the prefetch machinery, each part on its own: the read pattern (how the
 * read-ahead window grows and resets), the fetch scheduler (demand first, one slot kept from
 * prefetch, promotion, the concurrency bound), the prefetch budget and the arrival tracker
 * that lets reads use the front of a block still arriving. The scheduling tests see the same
 * rules from the source's side; these pin each rule down row by row.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Arrival } from '../lib/prefetch/arrival.js'
import { FetchScheduler, type Priority, type ScheduledTask } from '../lib/prefetch/fetch-scheduler.js'
import { PrefetchBudget } from '../lib/prefetch/prefetch-budget.js'
import { ReadPattern } from '../lib/prefetch/read-pattern.js'

test('read pattern: sequential reads double the window up to the cap, a seek resets it', () => {
  type Step = [op: 'read', position: number, length: number, window: number] | [op: 'sequential', position: number]
  const rows: [string, Step[]][] = [
    ['a first read at 0 starts at the minimum, then doubles to the cap', [['read', 0, 4, 8], ['read', 4, 4, 16], ['read', 8, 4, 32], ['read', 12, 4, 64], ['read', 16, 4, 64]]],
    ['a first read elsewhere is not sequential', [['read', 50, 4, 0], ['read', 54, 4, 8]]],
    ['a seek resets to nothing; continuing from it starts over at the minimum', [['read', 0, 4, 8], ['read', 4, 4, 16], ['read', 100, 4, 0], ['read', 104, 4, 8]]],
    ['re-reading the same range is not sequential', [['read', 0, 4, 8], ['read', 0, 4, 0]]],
    ['a backward read is a seek', [['read', 0, 10, 8], ['read', 10, 10, 16], ['read', 5, 5, 0]]],
    ['assumeSequential starts a known-sequential reader at the full window', [['sequential', 200], ['read', 200, 4, 64], ['read', 204, 4, 64]]],
    ['assumeSequential then a jump still resets', [['sequential', 200], ['read', 300, 4, 0]]],
  ]
  for (const [name, steps] of rows) {
    const p = new ReadPattern(8, 64)
    const got: number[] = []
    const want: number[] = []
    for (const step of steps) {
      if (step[0] === 'sequential') p.assumeSequential(step[1])
      else {
        got.push(p.observe(step[1], step[2]))
        want.push(step[3])
      }
    }
    assert.equal(got, want, name)
  }
})

/** Drives a FetchScheduler with tasks the test finishes by name, recording the start order. */
class SchedulerHarness {
  readonly started: string[] = []
  private readonly finishers = new Map<string, () => void>()
  private readonly tasks = new Map<string, ScheduledTask>()
  constructor(readonly scheduler: FetchScheduler) {}
  add(name: string, priority: Priority): void {
    const { task } = this.scheduler.schedule(priority, () => {
      this.started.push(name)
      return new Promise<void>((resolve) => this.finishers.set(name, resolve))
    })
    this.tasks.set(name, task)
  }
  async finish(name: string): Promise<void> {
    this.finishers.get(name)!()
    // The scheduler starts the next task once the finished one's promise has settled.
    await new Promise((resolve) => setImmediate(resolve))
  }
  promote(name: string): void {
    this.tasks.get(name)!.promote()
  }
}

test('scheduler: demand first, one slot kept from prefetch, promotion, never more than the bound', async () => {
  // Ops: 'P:x' / 'D:x' schedule prefetch / demand x, 'done:x' finishes x, 'up:x' promotes x.
  const rows: [string, number, string[], string[]][] = [
    ['two slots: one runs prefetch, the other stays free for demand', 2, ['P:a', 'P:b', 'P:c', 'D:d'], ['a', 'd']],
    ['a freed slot goes to queued demand before earlier queued prefetch', 2, ['P:a', 'D:b', 'P:c', 'D:d', 'done:a'], ['a', 'b', 'd']],
    ['one slot: prefetch only when idle, demand next', 1, ['P:a', 'D:b', 'P:c', 'done:a', 'done:b'], ['a', 'b', 'c']],
    ['three slots: prefetch fills two', 3, ['P:a', 'P:b', 'P:c', 'P:d'], ['a', 'b']],
    ['a promoted prefetch runs like demand', 2, ['P:a', 'P:b', 'P:c', 'up:c'], ['a', 'c']],
    ['promotion reorders the queue', 2, ['D:a', 'D:b', 'P:c', 'P:d', 'up:d', 'done:a'], ['a', 'b', 'd']],
    ['demand alone fills every slot and waits for one to free', 2, ['D:a', 'D:b', 'D:c', 'done:b', 'done:a'], ['a', 'b', 'c']],
    ['prefetch resumes once demand is served', 2, ['P:a', 'D:b', 'P:c', 'done:a'], ['a', 'b', 'c']],
  ]
  for (const [name, max, ops, want] of rows) {
    const h = new SchedulerHarness(new FetchScheduler(max))
    for (const op of ops) {
      const [kind, x] = op.split(':') as [string, string]
      if (kind === 'P') h.add(x, 'prefetch')
      else if (kind === 'D') h.add(x, 'demand')
      else if (kind === 'up') h.promote(x)
      else await h.finish(x)
    }
    assert.equal(h.started, want, name)
    assert.is(h.scheduler.queued, ops.filter((o) => /^[PD]:/.test(o)).length - want.length, `${name}: the rest is queued`)
  }
})

test('scheduler: a task that fails frees its slot like one that succeeds', async () => {
  const s = new FetchScheduler(1)
  const first = s.schedule('demand', () => Promise.reject(new Error('store down'))).promise
  const second = s.schedule('demand', async () => 'ran').promise
  await first.then(() => assert.unreachable('should fail'), (e: Error) => assert.is(e.message, 'store down'))
  assert.is(await second, 'ran')
})

test('prefetch budget: acquire only what fits, release gives it back, zero budget refuses any bytes', () => {
  const rows: [string, number, [op: 'take' | 'give', bytes: number, ok?: boolean][], number][] = [
    ['fills up exactly', 10, [['take', 4, true], ['take', 4, true], ['take', 2, true], ['take', 1, false]], 10],
    ['a request that would pass the bound is refused whole', 10, [['take', 8, true], ['take', 4, false], ['take', 2, true]], 10],
    ['release makes room again', 10, [['take', 10, true], ['take', 1, false], ['give', 4], ['take', 4, true]], 10],
    ['zero budget: nothing but nothing', 0, [['take', 1, false], ['take', 0, true]], 0],
  ]
  for (const [name, max, ops, inflight] of rows) {
    const b = new PrefetchBudget(max)
    for (const [op, bytes, ok] of ops) {
      if (op === 'give') b.release(bytes)
      else assert.is(b.tryAcquire(bytes), ok, `${name}: take ${bytes}`)
    }
    assert.is(b.inflightBytes, inflight, name)
    assert.is(b.maxBytes, max)
  }
})

test('arrival: views of what has arrived, at least `need`, within one block; waiters woken as bytes land', async () => {
  const a = new Arrival(100)
  const blocks = [new Uint8Array(100).map((_, i) => i), new Uint8Array(50).map((_, i) => 100 + i)]
  const early = a.reached(250)
  let woke = false
  void early.then(() => void (woke = true))
  a.progress(200, blocks, 30) // bytes [200, 230) final
  await Promise.resolve()
  assert.not.ok(woke, 'not woken before its bytes arrived')
  a.progress(200, blocks, 130) // bytes [200, 330) final
  await early
  const rows: [string, number, number, number, number[] | undefined][] = [
    ['inside the first block', 210, 260, 250, [10, 59]],
    ['clipped at the block end', 290, 400, 300, [90, 99]],
    ['the second block, clipped at what arrived', 300, 350, 320, [100, 129]],
    ['less arrived than needed', 250, 300, 340, undefined],
    ['before the run', 150, 210, 200, undefined],
  ]
  for (const [name, position, end, need, want] of rows) {
    const v = a.view(position, end, need)
    assert.equal(v === undefined ? undefined : [v[0], v[v.length - 1]], want, name)
  }
  assert.ok(await resolvesAtOnce(a.reached(100)), 'already arrived: resolves at once')
  const pending = a.reached(10_000)
  assert.not.ok(await resolvesAtOnce(pending), 'not arrived: waits')
  a.settle()
  assert.ok(await resolvesAtOnce(pending), 'settle releases every waiter (the fetch finished or failed)')
  assert.ok(await resolvesAtOnce(a.reached(10_000)), 'after settle nothing waits')
})

/** Whether `p` settles before the event loop turns (no timing involved). */
function resolvesAtOnce(p: Promise<unknown>): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))])
}

test.run()
