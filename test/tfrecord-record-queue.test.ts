/**
 * The record queue between a sequential run's reader and its consumer (record-queue.ts):
 * order across batches, the reader's end and failure, the byte bound with its half-way
 * wake-up, and close. No I/O: the queue is plain data structure and promises.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RecordQueue, WAIT } from '../loaders/tfrecord/record-queue.js'

const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill)

/** Rejects if `p` has not settled within `ms` (a hung wake-up fails the test instead of stalling it). */
function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/** Tracks whether `p` has settled. */
function watch(p: Promise<unknown>): { settled: boolean } {
  const state = { settled: false }
  void p.then(() => (state.settled = true))
  return state
}

/** Lets every promise callback already due run (one macrotask turn), so "still pending" means it. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

test('records come out in push order across batches, empty batches skipped; WAIT until the reader ends', () => {
  const q = new RecordQueue(1 << 20)
  assert.is(q.take(), WAIT, 'nothing queued, reader going')
  q.push([bytes(1, 1), bytes(1, 2)])
  q.push([])
  q.push([bytes(1, 3)])
  assert.equal([q.take(), q.take(), q.take()].map((r) => (r as Uint8Array)[0]), [1, 2, 3])
  assert.is(q.take(), WAIT)
  q.push([bytes(1, 4)])
  q.end()
  assert.is((q.take() as Uint8Array)[0], 4, 'records queued before the end are still delivered')
  assert.is(q.take(), undefined, 'ended and empty')
  assert.is(q.take(), undefined)
})

test("the reader's failure is thrown only after the records queued before it", () => {
  const q = new RecordQueue(1 << 20)
  const failure = new Error('shard 3 is corrupt')
  q.push([bytes(1, 7)])
  q.end(failure)
  assert.is((q.take() as Uint8Array)[0], 7)
  for (let i = 0; i < 2; i++) {
    try {
      q.take()
      assert.unreachable('take after the failure')
    } catch (err) {
      assert.is(err, failure)
    }
  }
})

test('bounded in bytes: push reports full at the bound, room() resolves once the consumer took it below half', async () => {
  const q = new RecordQueue(100)
  assert.ok(q.push([bytes(10), bytes(10), bytes(10), bytes(10)]), '40 of 100 bytes: room left')
  assert.not.ok(q.push([bytes(10), bytes(10), bytes(10), bytes(10), bytes(10), bytes(10)]), '100 of 100 bytes: full')
  const room = q.room()
  const state = watch(room)
  for (let i = 0; i < 5; i++) q.take() // 50 bytes left: not below half
  await turn()
  assert.not.ok(state.settled, 'the reader still waits at exactly half')
  q.take() // 40 bytes left
  await within(room, 'room() after the queue fell below half')
  assert.ok(q.push([bytes(10)]), 'room again')
})

test('arrival() resolves when records are pushed, and when the reader ends', async () => {
  const q = new RecordQueue(1 << 20)
  assert.is(q.take(), WAIT)
  const first = q.arrival()
  q.push([bytes(3, 9)])
  await within(first, 'arrival() after a push')
  assert.is((q.take() as Uint8Array)[0], 9)
  assert.is(q.take(), WAIT)
  const second = q.arrival()
  q.end()
  await within(second, 'arrival() after the end')
  assert.is(q.take(), undefined)
})

test('close() drops what is queued and releases a reader waiting for room', async () => {
  const q = new RecordQueue(10)
  assert.not.ok(q.push([bytes(6), bytes(6)]))
  const room = q.room()
  q.close()
  await within(room, 'room() after close')
  assert.is(q.take(), WAIT, 'nothing left to take')
})

test('order holds across the compaction of many queued batches, taken while more arrive', () => {
  const q = new RecordQueue(Number.MAX_SAFE_INTEGER)
  const label = (r: Uint8Array | undefined | typeof WAIT) => new DataView((r as Uint8Array).buffer).getUint32(0, true)
  const record = (n: number) => new Uint8Array(new Uint32Array([n]).buffer)
  let pushed = 0
  let taken = 0
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 1500; i++) q.push(i % 3 === 0 ? [] : [record(pushed++), record(pushed++)])
    for (let i = 0; i < 700; i++) assert.is(label(q.take()), taken++)
  }
  while (taken < pushed) assert.is(label(q.take()), taken++)
  assert.is(q.take(), WAIT)
})

test.run()
