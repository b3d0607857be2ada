/**
 * The remote-store model's arithmetic, on a fake clock: first-byte latency per request, the
 * per-connection cap, the aggregate cap shared between connections, and the bound on credit
 * an idle connection can bank. Every check counts bytes over model time; none reads a wall
 * clock.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { LinkModel, SLACK_MS, type RemoteStoreModel } from '../bench/support/link-model.js'

const test = suite('bench-link-model')
const SLICE = 64 * 1024
const model = (over: Partial<RemoteStoreModel> = {}): RemoteStoreModel => ({ firstByteLatencyMs: 20, connectionBytesPerSecond: 50e6, aggregateBytesPerSecond: 200e6, ...over })

/** A clock the test moves by hand. */
function fakeClock(start = 1000) {
  const clock = { t: start, now: () => clock.t }
  return clock
}

test('first byte waits the latency after arrival, and every request is counted', () => {
  const clock = fakeClock()
  const link = new LinkModel(model({ firstByteLatencyMs: 20 }), clock.now)
  assert.is(link.firstByteAt(1000), 1020)
  assert.is(link.firstByteAt(1005.5), 1025.5)
  assert.is(link.requests, 2)
})

test('one connection sending as fast as allowed moves exactly its rate', () => {
  const clock = fakeClock(0)
  const link = new LinkModel(model(), clock.now)
  const conn = link.openConnection()
  let sent = 0
  // The proxy's loop: reserve a slice, wait until the model releases it, repeat.
  while (sent < 50e6) {
    const n = Math.min(SLICE, 50e6 - sent)
    clock.t = conn.reserve(n)
    sent += n
  }
  assert.ok(Math.abs(clock.t - 1000) < 1e-6, `50 MB at 50 MB/s should take 1000 ms of model time, took ${clock.t}`)
  assert.is(link.bytes, 50e6)
})

test('the aggregate cap is shared: two connections under a 60 MB/s link get 30 MB/s each', () => {
  const clock = fakeClock(0)
  const link = new LinkModel(model({ aggregateBytesPerSecond: 60e6 }), clock.now)
  const conns = [link.openConnection(), link.openConnection()]
  const next = [0, 0]
  const bytes = [0, 0]
  // Event loop in model time: the connection whose slice is released first goes next.
  while (clock.t < 1000) {
    const i = next[0]! <= next[1]! ? 0 : 1
    clock.t = next[i]!
    next[i] = conns[i]!.reserve(SLICE)
    bytes[i]! += SLICE
  }
  for (const b of bytes) assert.ok(Math.abs(b / 1e6 - 30) < 0.2, `each connection ~30 MB in 1 s, got ${b / 1e6}`)
  assert.ok(Math.abs((bytes[0]! + bytes[1]!) / 1e6 - 60) < 0.2)
})

test('the per-connection cap binds when the link has room: 3 connections on a 1 GB/s link move 150 MB/s', () => {
  const clock = fakeClock(0)
  const link = new LinkModel(model({ aggregateBytesPerSecond: 1e9 }), clock.now)
  const conns = [link.openConnection(), link.openConnection(), link.openConnection()]
  const next = [0, 0, 0]
  let total = 0
  while (clock.t < 1000) {
    const i = next.indexOf(Math.min(...next))
    clock.t = next[i]!
    next[i] = conns[i]!.reserve(SLICE)
    total += SLICE
  }
  assert.ok(Math.abs(total / 1e6 - 150) < 0.5, `3 x 50 MB/s in 1 s, got ${total / 1e6} MB`)
})

test('an idle connection banks at most the slack, so a burst after idling is bounded', () => {
  const clock = fakeClock(0)
  const link = new LinkModel(model({ aggregateBytesPerSecond: 1e9 }), clock.now)
  const conn = link.openConnection()
  conn.reserve(SLICE)
  clock.t = 10_000 // ten seconds idle
  const released = conn.reserve(5e6) // 100 ms worth at 50 MB/s
  assert.ok(Math.abs(released - (10_000 - SLACK_MS + 100)) < 1e-6, `released at ${released}`)
})

test('a late timer is made up for: releases never drift behind the rate by more than the slack', () => {
  const clock = fakeClock(0)
  const link = new LinkModel(model({ aggregateBytesPerSecond: 1e9 }), clock.now)
  const conn = link.openConnection()
  let sent = 0
  while (sent < 10e6) {
    // Every timer fires 2 ms late; the model must still release 10 MB by 200 ms + one lateness.
    clock.t = conn.reserve(SLICE) + 2
    sent += SLICE
  }
  assert.ok(clock.t <= (sent / 50e6) * 1000 + 2 + 1e-6, `drifted: ${clock.t} ms for ${sent} bytes`)
})

test('nonsense parameters are refused with the parameter named', () => {
  assert.throws(() => new LinkModel(model({ connectionBytesPerSecond: 0 })), /connectionBytesPerSecond/)
  assert.throws(() => new LinkModel(model({ firstByteLatencyMs: -1 })), /firstByteLatencyMs/)
  assert.throws(() => new LinkModel(model({ aggregateBytesPerSecond: Number.NaN })), /aggregateBytesPerSecond/)
})

test.run()
