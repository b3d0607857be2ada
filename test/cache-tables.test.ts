/**
 * Table tests of two small policies of the cache. Tier health decides when a failing tier is
 * bypassed and when it is tried again (the README's "counted, reported and bypassed"); the
 * frequency sketch is the count-min sketch behind the disk tier's TinyLFU admission, whose
 * answers (never an undercount, saturation, ageing, shared counts) the admission decisions
 * rest on. Times are passed in explicitly, so nothing here waits.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { blockKey, objectId } from '../lib/cache/block-key.js'
import { FrequencySketch, keyHashes } from '../lib/cache/frequency-sketch.js'
import { TierHealth } from '../lib/cache/tier-health.js'

test('tier health: bypassed after N consecutive failures, tried again after the cool-down, healed by one success', () => {
  type Step = [op: 'fail' | 'ok', at: number] | [op: 'check', at: number, usable: boolean, healthy: boolean]
  const rows: [string, Step[]][] = [
    ['fewer failures than the limit keep it in use', [['fail', 0], ['fail', 1], ['check', 2, true, true]]],
    ['the limit of consecutive failures bypasses it', [['fail', 0], ['fail', 1], ['fail', 10], ['check', 11, false, false], ['check', 1009, false, false]]],
    ['after the cool-down it is tried again, still unhealthy', [['fail', 0], ['fail', 0], ['fail', 10], ['check', 1010, true, false]]],
    ['one success makes it healthy', [['fail', 0], ['fail', 0], ['fail', 10], ['ok', 1010], ['check', 1011, true, true]]],
    ['a success in between resets the count', [['fail', 0], ['fail', 1], ['ok', 2], ['fail', 3], ['fail', 4], ['check', 5, true, true]]],
    ['a failure on the retry bypasses it for another cool-down', [['fail', 0], ['fail', 0], ['fail', 0], ['fail', 1000], ['check', 1500, false, false], ['check', 2000, true, false]]],
  ]
  for (const [name, steps] of rows) {
    const h = new TierHealth({ maxConsecutiveErrors: 3, cooldownMs: 1000 })
    steps.forEach((step, i) => {
      if (step[0] === 'fail') h.failure(new Error(`disk full ${i}`), step[1])
      else if (step[0] === 'ok') h.success()
      else assert.equal([h.usable(step[1]), h.healthy], [step[2], step[3]], `${name}: step ${i}`)
    })
  }
  const h = new TierHealth()
  h.failure(new Error('ENOSPC'), 0)
  h.failure('plain string', 0)
  assert.equal([h.errors, h.lastError], [2, 'plain string'], 'every failure counted, the last one kept')
  h.failure(new Error('MDB_MAP_FULL'), 0)
  assert.equal([h.usable(9999), h.usable(10_000), h.healthy], [false, true, false], 'defaults: 3 failures, 10 s cool-down')
})

const keys = Array.from({ length: 6 }, (_, i) => keyHashes(blockKey(objectId(`s3://b/shard-${i}`, '"v1"', 4 << 20, 1 << 30), i)))

test('frequency sketch: counts, never undercounts, saturates at 255', () => {
  const s = new FrequencySketch(1000, Number.POSITIVE_INFINITY)
  const counts = [0, 1, 2, 5, 17, 300]
  keys.forEach(([h1, h2], i) => {
    for (let n = 0; n < counts[i]!; n++) s.increment(h1, h2)
  })
  keys.forEach(([h1, h2], i) => {
    const est = s.estimate(h1, h2)
    assert.ok(est >= Math.min(255, counts[i]!), `key ${i}: estimate ${est} below its count ${counts[i]}`)
  })
  // With six keys in a table sized for a thousand, no key collides in every row: exact.
  assert.equal(keys.map(([h1, h2]) => s.estimate(h1, h2)), [0, 1, 2, 5, 17, 255])
})

test('frequency sketch: every sampleSize additions halve all counts, so old popularity fades', () => {
  const rows: [string, number, number, number][] = [
    // [name, sampleSize, increments of key 0, estimate after]
    ['below the sample size nothing ages', 10, 9, 9],
    ['the sampleSize-th addition halves', 10, 10, 5],
    ['halving again after another sample', 10, 20, 7], // 10 -> 5, then +10 -> 15 -> 7
    ['increments of a saturated key add nothing, so they bring no ageing', 256, 300, 255],
  ]
  for (const [name, sampleSize, increments, want] of rows) {
    const s = new FrequencySketch(100, sampleSize)
    const [h1, h2] = keys[0]!
    for (let n = 0; n < increments; n++) s.increment(h1, h2)
    assert.is(s.estimate(h1, h2), want, name)
  }
  // A key that was popular fades below a newly popular one.
  const s = new FrequencySketch(100, 20)
  const [old, fresh] = [keys[1]!, keys[2]!]
  for (let n = 0; n < 15; n++) s.increment(...old)
  for (let n = 0; n < 15; n++) s.increment(...fresh)
  assert.ok(s.estimate(...fresh) > s.estimate(...old), `new ${s.estimate(...fresh)} vs old ${s.estimate(...old)}`)
})

test('frequency sketch: another view of the shared table sees the same counts', () => {
  const s = new FrequencySketch(100)
  const [h1, h2] = keys[3]!
  for (let n = 0; n < 7; n++) s.increment(h1, h2)
  const view = FrequencySketch.overTable(s.sharedTable)
  assert.is(view.estimate(h1, h2), 7)
  s.increment(h1, h2)
  assert.is(view.estimate(h1, h2), 8, 'one table, not a copy')
  assert.instance(s.sharedTable.buffer, SharedArrayBuffer)
})

test('keyHashes: blocks of one object hash apart, and the second hash is odd', () => {
  const id = objectId('s3://b/k', '"v"', 4 << 20, 1 << 30)
  const hashes = Array.from({ length: 64 }, (_, i) => keyHashes(blockKey(id, i)))
  assert.is(new Set(hashes.map(([h1]) => h1)).size, 64, 'distinct first hashes')
  assert.ok(hashes.every(([h1, h2]) => h2 % 2 === 1 && [h1, h2].every((h) => Number.isInteger(h) && h >= 0 && h < 2 ** 32)), 'unsigned 32-bit, the second odd')
})

test.run()
