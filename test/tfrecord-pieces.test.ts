/**
 * Pieces of an epoch's sequence (loaders/tfrecord/pieces.ts): the pure bookkeeping under
 * plans, states and their merging, and the selector that picks a plan item's records out of a
 * shard as it is read.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { groupPieces, normalizePieces, RecordSelector, slicePieces, type Piece, type RecordRange } from '../loaders/tfrecord/pieces.js'
import { errorLike } from './support/expect-error.js'

test('normalizePieces sorts, drops empty pieces, joins touching ones and refuses overlaps', () => {
  const pieces: Piece[] = [[2, 5, 9], [0, 3, 4], [2, 0, 5], [1, 7, 7], [0, 4, null], [2, 9, 10]]
  assert.equal(normalizePieces(pieces), [[0, 3, null], [2, 0, 10]])
  assert.throws(() => normalizePieces([[1, 0, null], [1, 8, 9]]), errorLike(RangeError, /\[1,0,null\] and \[1,8,9\] overlap/))
  assert.throws(() => normalizePieces([[1, 0, 5], [1, 4, 9]]), errorLike(RangeError, /overlap/))
})

test('groupPieces makes one group of the consecutive pieces of a shard', () => {
  assert.equal(groupPieces([[3, 0, 2], [3, 5, null], [1, 0, 4], [3, 9, 10]]), [
    { k: 3, ranges: [[0, 2], [5, null]] },
    { k: 1, ranges: [[0, 4]] },
    { k: 3, ranges: [[9, 10]] },
  ])
})

test('slicePieces takes positions [lo, hi) of the pieces laid end to end', () => {
  const pieces: Piece[] = [[0, 10, 14], [2, 0, 3], [5, 7, 9]]
  assert.equal(slicePieces(pieces, 0, 9), pieces)
  assert.equal(slicePieces(pieces, 2, 6), [[0, 12, 14], [2, 0, 2]])
  assert.equal(slicePieces(pieces, 7, 9), [[5, 7, 9]])
  assert.equal(slicePieces(pieces, 4, 4), [])
})

/** Feeds record numbers `start..` in batches of the given sizes; what each batch gave. */
function select(ranges: RecordRange[], start: number, batches: number[]): { picked: number[][]; done: boolean[] } {
  const selector = new RecordSelector(ranges, start)
  const picked: number[][] = []
  const done: boolean[] = []
  let next = start
  for (const size of batches) {
    const batch = Array.from({ length: size }, () => Uint8Array.of(next++))
    picked.push(selector.select(batch).map((r) => r[0]!))
    done.push(selector.done)
  }
  return { picked, done }
}

test('RecordSelector picks the ranges out of batches that cut across them', () => {
  const { picked, done } = select([[2, 4], [5, 9], [12, 13]], 0, [3, 4, 4, 3, 3])
  assert.equal(picked, [[2], [3, 5, 6], [7, 8], [12], []])
  assert.equal(done, [false, false, false, true, true], 'done once the last range has gone by')
})

test('RecordSelector: a batch wholly wanted is passed on as it is; an open range runs to the end', () => {
  const selector = new RecordSelector([[4, null]], 4)
  const batch = [Uint8Array.of(4), Uint8Array.of(5)]
  assert.is(selector.select(batch), batch, 'no copy of the batch')
  assert.not.ok(selector.done)
  assert.equal(select([[1, null]], 0, [2, 2]).picked, [[1], [2, 3]])
  // reading from a byte offset starts at the first range's first record
  assert.equal(select([[10, 12], [13, 14]], 10, [2, 2]).picked, [[10, 11], [13]])
})

test.run()
