import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { TFRecordCorruptionError } from '../lib/errors.js'
import { maskCrc, maskedCrc32c, unmaskCrc } from '../loaders/tfrecord/crc.js'
import { encodeTFRecords } from '../loaders/tfrecord/writer.js'
import { equalBytes, frameAll, makeRecords } from './support/tfrecord-fixtures.js'

test('mask: known value and inverse', () => {
  // TensorFlow's crc32c_test: Mask(crc) != crc, Unmask(Mask(crc)) == crc
  for (const crc of [0, 1, 0xffffffff, 0x12345678, 0xe3069283]) {
    assert.is(unmaskCrc(maskCrc(crc)), crc >>> 0)
    assert.is.not(maskCrc(crc), crc >>> 0)
  }
  // CRC32C("123456789") = 0xe3069283
  const masked = maskedCrc32c(new TextEncoder().encode('123456789'))
  assert.is(unmaskCrc(masked), 0xe3069283)
})

test('round trip across chunk sizes, including empty and spanning records', () => {
  const records = makeRecords(60, [0, 1, 3, 12, 13, 100, 4000, 70_000])
  const bytes = encodeTFRecords(records)
  for (const chunk of [1, 2, 5, 11, 12, 13, 16, 17, 64, 1000, 4096, 65536, bytes.length]) {
    const got = frameAll(bytes, chunk)
    assert.is(got.records.length, records.length, `chunk ${chunk}`)
    for (let i = 0; i < records.length; i++) assert.ok(equalBytes(got.records[i]!, records[i]!), `chunk ${chunk} record ${i}`)
    let offset = 0
    for (let i = 0; i < records.length; i++) {
      assert.is(got.offsets[i], offset)
      offset += records[i]!.length + 16
    }
  }
})

test('records inside one chunk are views, spanning ones are copies', () => {
  const records = makeRecords(3, [100])
  const bytes = encodeTFRecords(records)
  const whole = frameAll(bytes, bytes.length)
  // frameAll slices the input once, so every record views that one buffer
  assert.ok(whole.records.every((r) => r.buffer === whole.records[0]!.buffer))
  const split = frameAll(bytes, 130)
  assert.is.not(split.records[1]!.buffer, split.records[0]!.buffer)
})

test('an empty stream has no records; zero-length records survive', () => {
  assert.is(frameAll(new Uint8Array(0), 10).records.length, 0)
  const got = frameAll(encodeTFRecords([new Uint8Array(0), new Uint8Array(0)]), 5)
  assert.equal(got.records.map((r) => r.length), [0, 0])
})

function corruptAt(bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice()
  copy[index] = copy[index]! ^ 0x40
  return copy
}

function expectCorruption(fn: () => unknown, offset: number, check: string): void {
  try {
    fn()
  } catch (err) {
    assert.instance(err, TFRecordCorruptionError)
    const e = err as TFRecordCorruptionError
    assert.is(e.code, 'ERR_SLUICE_TFRECORD_CORRUPT')
    assert.is(e.offset, offset, `offset for ${check}`)
    assert.is(e.check, check)
    assert.match(e.message, 'mem://test')
    assert.match(e.message, String(offset))
    return
  }
  assert.unreachable(`expected ${check} at ${offset}`)
}

const sizes = [50, 0, 300, 20]
const records = makeRecords(12, sizes)
const bytes = encodeTFRecords(records)
const offsets: number[] = []
{
  let o = 0
  for (const r of records) {
    offsets.push(o)
    o += r.length + 16
  }
}

for (const chunk of [7, 64, 1 << 20]) {
  test(`corruption is reported at the record's offset (chunk ${chunk})`, () => {
    const r = 6 // a 300-byte record
    expectCorruption(() => frameAll(corruptAt(bytes, offsets[r]! + 2), chunk), offsets[r]!, 'length-crc')
    expectCorruption(() => frameAll(corruptAt(bytes, offsets[r]! + 9), chunk), offsets[r]!, 'length-crc')
    expectCorruption(() => frameAll(corruptAt(bytes, offsets[r]! + 12 + 3), chunk), offsets[r]!, 'data-crc')
    expectCorruption(() => frameAll(corruptAt(bytes, offsets[r + 1]! - 2), chunk), offsets[r]!, 'data-crc')
    expectCorruption(() => frameAll(bytes.subarray(0, offsets[r]! + 40), chunk), offsets[r]!, 'truncated')
    expectCorruption(() => frameAll(bytes.subarray(0, offsets[r]! + 5), chunk), offsets[r]!, 'truncated')
  })

  test(`skip mode delivers every good record (chunk ${chunk})`, () => {
    const r = 6 // 300-byte record
    const cases: [string, Uint8Array, number[]][] = [
      ['length', corruptAt(bytes, offsets[r]! + 1), [r]],
      ['length crc', corruptAt(bytes, offsets[r]! + 10), [r]],
      ['data', corruptAt(bytes, offsets[r]! + 12 + 100), [r]],
      ['data crc', corruptAt(bytes, offsets[r + 1]! - 1), [r]],
      ['truncated', bytes.subarray(0, offsets[r]! + 100), records.map((_, i) => i).filter((i) => i >= r)],
    ]
    for (const [name, damaged, lost] of cases) {
      const got = frameAll(damaged, chunk, { onCorrupt: 'skip' })
      const want = records.filter((_, i) => !lost.includes(i))
      assert.is(got.records.length, want.length, name)
      want.forEach((w, i) => assert.ok(equalBytes(got.records[i]!, w), `${name}: record ${i}`))
      assert.is(got.corrupt, 1, name)
    }
  })
}

test('a huge length is corruption, never an allocation', () => {
  const copy = bytes.slice()
  new DataView(copy.buffer).setUint32(offsets[2]!, 0xfffffff0, true)
  expectCorruption(() => frameAll(copy, 64, { verify: false }), offsets[2]!, 'length-limit')
  // with the stream size known, a length past the end is truncation
  const small = bytes.slice()
  new DataView(small.buffer).setUint32(offsets[2]!, 100_000, true)
  expectCorruption(() => frameAll(small, 64, { verify: false, streamBytes: small.length }), offsets[2]!, 'truncated')
})

test('verify: false accepts damaged data', () => {
  const got = frameAll(corruptAt(bytes, offsets[3]! + 20), 64, { verify: false })
  assert.is(got.records.length, records.length)
})

test.run()
