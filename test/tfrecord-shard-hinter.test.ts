/**
 * The shard hinter (shard-hinter.ts) over a real BlockReader on a MemorySource: which items
 * it opens ahead, which of their blocks it prefetches and when (in pieces as the current
 * shard nears its end, from a records-mode item's first byte, a cut-short hint offered
 * again), and that close() closes what it opened. The reader's own read-ahead is off, so
 * every block fetched ahead is the hinter's.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader, ClosedError, KiB, MemorySource, MiB, type ObjectInfo } from '../lib/index.js'
import { ShardHinter, type HintedItem, type HintSettings } from '../loaders/tfrecord/shard-hinter.js'

const BLOCK = 64 * KiB

interface Setup {
  source: MemorySource
  reader: BlockReader
  shards: ObjectInfo[]
  opened: { count: number }
}

function setup(sizes: number[], maxInflightBytes = 64 * MiB): Setup {
  const source = new MemorySource('mem')
  const shards = sizes.map((size, k) => source.put(`mem://bucket/hint/shard-${k}`, new Uint8Array(size).fill(k + 1)))
  const reader = new BlockReader({
    sources: [source],
    blockSize: BLOCK,
    memory: { maxBytes: 64 * MiB },
    prefetch: { maxReadAheadBytes: 0, maxInflightBytes },
  })
  return { source, reader, shards, opened: { count: 0 } }
}

function hinter(s: Setup, items: HintedItem[], ahead: HintSettings): ShardHinter {
  return new ShardHinter(s.reader, items, ahead, undefined, () => s.opened.count++)
}

const issued = (s: Setup) => s.reader.stats().prefetch.issuedBlocks

/** Source GETs a read of `[position, position + length)` of `shard` costs (0: it was prefetched). */
async function getsToRead(s: Setup, shard: ObjectInfo, position: number, length: number): Promise<number> {
  const before = s.source.calls.readRange
  const handle = await s.reader.open(shard)
  try {
    await handle.read(position, length)
  } finally {
    await handle.close()
  }
  return s.source.calls.readRange - before
}

/** Resolves once the reader has no prefetch in flight; fails the test after `ms`. */
async function prefetchSettled(s: Setup, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (s.reader.stats().prefetch.inflightBytes > 0) {
    if (Date.now() > deadline) assert.unreachable(`prefetches still in flight after ${ms} ms`)
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

test('the next shards are hinted a piece at a time as the current one nears its end, only `shards` of them', async () => {
  // readAhead.bytes 1 MiB: pieces of a quarter, 256 KiB = 4 blocks
  const s = setup([1 * MiB, 640 * KiB, 128 * KiB, 1 * MiB])
  const h = hinter(s, s.shards.map((shard) => ({ shard })), { shards: 2, bytes: 1 * MiB })
  try {
    await h.hintAhead(0, 2 * MiB)
    await h.hintAhead(0, 1 * MiB)
    assert.is(issued(s), 0, 'a full readAhead.bytes still to read in this shard: nothing hinted')
    await h.hintAhead(0, 1 * MiB - 100 * KiB)
    assert.is(issued(s), 0, 'less than a piece due: held back')
    await h.hintAhead(0, 768 * KiB)
    assert.is(issued(s), 4, 'one piece of the next shard')
    await h.hintAhead(0, 700 * KiB)
    assert.is(issued(s), 4, 'the next piece is not due yet')
    await h.hintAhead(0, 0)
    assert.is(issued(s), 4 + 6 + 2, 'at the end: the rest of shard 1 and all of shard 2; shard 3 is beyond readAhead.shards')
    await prefetchSettled(s)
    assert.is(await getsToRead(s, s.shards[1]!, 0, 640 * KiB), 0, 'shard 1 came from the hints')
    assert.is(await getsToRead(s, s.shards[2]!, 0, 128 * KiB), 0, 'shard 2 came from the hints')
    assert.is(await getsToRead(s, s.shards[3]!, 0, BLOCK), 1, 'shard 3 was not hinted')
    assert.is(s.opened.count, 2, 'shards 1 and 2 opened to hint them, not shard 3')
  } finally {
    await h.close()
    await s.reader.close()
  }
})

test("a records-mode item is hinted from its first byte, and a tail shorter than a piece all at once", async () => {
  const s = setup([1 * MiB, 1 * MiB])
  // records [a, b) of shard 1 lie in bytes [320 KiB, 448 KiB): two blocks, under a piece
  const items: HintedItem[] = [{ shard: s.shards[0]! }, { shard: s.shards[1]!, bytes: { start: 320 * KiB, end: 448 * KiB } }]
  const h = hinter(s, items, { shards: 2, bytes: 1 * MiB })
  try {
    await h.hintAhead(0, 1 * MiB - 64 * KiB)
    assert.is(issued(s), 0, 'half the tail due: held back')
    await h.hintAhead(0, 1 * MiB - 128 * KiB)
    assert.is(issued(s), 2, 'the whole tail (blocks 5 and 6)')
    await prefetchSettled(s)
    assert.is(await getsToRead(s, s.shards[1]!, 320 * KiB, 128 * KiB), 0, "the item's bytes came from the hint")
    assert.is(await getsToRead(s, s.shards[1]!, 0, BLOCK), 1, 'bytes before the item were not hinted')
  } finally {
    await h.close()
    await s.reader.close()
  }
})

test("a hint the reader's prefetch budget cut short is offered again with the next piece", async () => {
  // budget: two blocks in flight; pieces of 256 KiB (four blocks)
  const s = setup([1 * MiB, 1 * MiB], 2 * BLOCK)
  const h = hinter(s, s.shards.map((shard) => ({ shard })), { shards: 1, bytes: 1 * MiB })
  try {
    await h.hintAhead(0, 768 * KiB)
    assert.is(issued(s), 2, 'the budget took two of the four blocks')
    await prefetchSettled(s)
    await h.hintAhead(0, 640 * KiB)
    assert.is(issued(s), 4, 'the next piece starts where the budget stopped the last one')
    await prefetchSettled(s)
    assert.is(await getsToRead(s, s.shards[1]!, 0, 4 * BLOCK), 0, 'blocks 0-3 all came from hints')
  } finally {
    await h.close()
    await s.reader.close()
  }
})

test('each item is opened once, at most `shards` ahead; close() closes them, also one still opening', async () => {
  const s = setup([BLOCK, BLOCK, BLOCK, BLOCK, BLOCK])
  const h = hinter(s, s.shards.map((shard) => ({ shard })), { shards: 2, bytes: 0 })
  try {
    h.openAhead(0)
    const one = await h.open(1)
    assert.is(await h.open(1), one, 'the handle opened ahead is the one the run gets')
    await h.open(2)
    assert.is(s.opened.count, 2, 'items 1 and 2, not 3')
    assert.is(s.reader.stats().openHandles, 2)
    h.release(1)
    await one.close()
    const late = h.open(4)
    await h.close()
    try {
      await late
      assert.unreachable('an open that completes after close()')
    } catch (err) {
      assert.instance(err, ClosedError)
      assert.is((err as ClosedError).code, 'ERR_SLUICE_CLOSED')
    }
    assert.is(s.reader.stats().openHandles, 0, 'every handle closed')
  } finally {
    await h.close()
    await s.reader.close()
  }
})

test.run()
