/**
 * The FaultySource of `sluice/testing` itself: faults fire on the calls they name and no
 * others, a stall holds a call until released or aborted, truncation carries what arrived,
 * and piecewise delivery reports progress into the buffers it returns. The tests that lean on
 * it (scheduling, resume, the loaders and the mount) trust exactly these behaviours.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NotFoundError, ShortReadError, SourceError } from '../lib/errors.js'
import { FaultySource, MemorySource } from '../lib/testing/index.js'
import { patternBytes } from './support/data.js'

function setup(options: ConstructorParameters<typeof FaultySource>[1] = {}) {
  const mem = new MemorySource()
  const a = mem.put('mem://b/a', patternBytes(10_000, 'a'))
  const b = mem.put('mem://b/b', patternBytes(100, 'b'))
  return { mem, a, b, src: new FaultySource(mem, options) }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'resolved', (e: unknown) => (e as { code?: string; name?: string }).code ?? (e as Error).name)
}

test('an error fault fires on the nth matching call of its URL and operation only', async () => {
  const { src, a, b } = setup({
    faults: [{ kind: 'error', url: /\/a$/, nth: [2], error: (url) => new SourceError(url, 'injected', { status: 500 }) }],
  })
  assert.is(await codeOf(src.readRange(a, 0, 10)), 'resolved', 'first read of a')
  assert.is(await codeOf(src.readRange(b, 0, 10)), 'resolved', 'b does not match and is not counted')
  assert.is(await codeOf(src.stat(a.url)), 'resolved', 'stat is not a read')
  assert.is(await codeOf(src.readRange(a, 0, 10)), 'ERR_SLUICE_SOURCE', 'second read of a')
  assert.is(await codeOf(src.readRange(a, 0, 10)), 'resolved', 'third read of a')
  assert.is(src.injected, 1)
  assert.equal(src.requests.map((r) => [r.operation, r.url.slice(-1)]), [['read', 'a'], ['read', 'b'], ['stat', 'a'], ['read', 'a'], ['read', 'a']])
  // Inner errors pass through untouched.
  const missing = await src.stat('mem://b/none').catch((e: unknown) => e)
  assert.instance(missing, NotFoundError)
  assert.is((missing as NotFoundError).code, 'ERR_SLUICE_NOT_FOUND')
})

test('truncate: a single-buffer read carries the partial bytes, a block read its complete blocks', async () => {
  const { src, a } = setup({ faults: [{ kind: 'truncate', bytes: 2500 }] })
  const single = await src.readRange(a, 100, 5100).catch((e: unknown) => e)
  assert.instance(single, ShortReadError)
  const s = single as ShortReadError
  assert.is(s.code, 'ERR_SLUICE_SHORT_READ')
  assert.equal([s.expected, s.received], [5000, 2500])
  assert.equal(Buffer.from(s.partial!), patternBytes(10_000, 'a').subarray(100, 2600))
  const progress: number[] = []
  const blocks = await src.readBlocks(a, 0, 8000, 1000, { onProgress: (_s, _b, filled) => void progress.push(filled) }).catch((e: unknown) => e)
  assert.instance(blocks, ShortReadError)
  const complete = (blocks as ShortReadError).completeBlocks!
  assert.is(complete.length, 2, 'blocks 0 and 1 complete, block 2 cut')
  assert.equal(Buffer.from(complete[1]!), patternBytes(10_000, 'a').subarray(1000, 2000))
  assert.equal(progress, [2500], 'the bytes that arrived were reported before the cut')
})

test('stall: held until release, counted in flight, or rejected by its signal', async () => {
  const { src, a } = setup({ faults: [{ kind: 'stall' }] })
  let done = 0
  const reads = [0, 1, 2].map((i) => src.readRange(a, i * 100, i * 100 + 10).then(() => void done++))
  await src.whenStalled(3)
  assert.equal([src.stalled, src.readsInFlight, done], [3, 3, 0])
  assert.is(src.release(1), 1)
  await reads[0]
  assert.equal([src.stalled, done], [2, 1])
  const abort = new AbortController()
  const aborted = src.readRange(a, 0, 10, { signal: abort.signal })
  await src.whenStalled(3)
  abort.abort(new Error('caller gave up'))
  assert.match(await aborted.then(() => 'resolved', (e: Error) => e.message), /caller gave up/)
  assert.is(src.stalled, 2, 'an aborted call leaves the hold')
  src.release()
  await Promise.all(reads)
  assert.equal([done, src.readsInFlight, src.maxReadsInFlight], [3, 0, 3])
  try {
    await src.whenStalled(1, 20)
    assert.unreachable('nothing is stalled')
  } catch (err) {
    assert.match((err as Error).message, /0 call\(s\) stalled after 20 ms, expected 1/)
  }
})

test('pieceBytes: progress after every piece, into the very buffers returned', async () => {
  const { src, a } = setup({ pieceBytes: 3000 })
  const seen: { filled: number; first: Uint8Array }[] = []
  const blocks = await src.readBlocks(a, 0, 10_000, 4096, { onProgress: (_s, b, filled) => void seen.push({ filled, first: b[0]! }) })
  assert.equal(seen.map((p) => p.filled), [3000, 6000, 9000, 10_000])
  assert.ok(seen.every((p) => p.first === blocks[0]), 'progress reports the returned buffers')
  assert.equal(blocks.map((b) => b.length), [4096, 4096, 1808])
  assert.equal(Buffer.concat(blocks), patternBytes(10_000, 'a'))
})

test('options are checked', () => {
  const mem = new MemorySource()
  const bad: [() => unknown, RegExp][] = [
    [() => new FaultySource(mem, { pieceBytes: 0 }), /pieceBytes must be a positive integer/],
    [() => new FaultySource(mem, { faults: [{ kind: 'stall', nth: [0] }] }), /fault 0: nth must hold 1-based/],
    [() => new FaultySource(mem, { faults: [{ kind: 'truncate', bytes: -1 }] }), /truncate bytes must be a non-negative integer/],
    [() => new FaultySource(mem, { faults: [{ kind: 'truncate', bytes: 1, operations: ['stat'] }] }), /truncate applies to reads only/],
  ]
  for (const [make, message] of bad) assert.throws(make, (e: Error) => (e instanceof RangeError || e instanceof TypeError) && message.test(e.message))
})

test.run()
