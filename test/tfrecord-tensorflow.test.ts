/**
 * Conformance with files written by TensorFlow itself (test/fixtures/tensorflow-tfrecord, see its
 * README for provenance): record boundaries, CRCs, Example decoding, and that our writer
 * reproduces TensorFlow's uncompressed bytes exactly.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { encodeTFRecords, tfrecords, TFRecordWriter, type Example } from '../loaders/tfrecord/index.js'
import { tensorflowFixture } from './support/tfrecord-fixtures.js'
import { BlockReader, FileSource, KiB } from '../lib/index.js'
import { FaultySource } from '../lib/testing/index.js'

interface Expected {
  files: {
    file: string
    sha256: string
    compression: string
    records: number
    payloadBytes: number
    payloadSha256: string
    features: Record<string, { minValues: number; maxValues: number; present: number; kind: string }>
    firstRecord: Record<string, number[]>
  }[]
}

/**
 * A real reader over the fixture files whose bodies arrive 64 KiB at a time, so with 1 MiB
 * blocks `chunks()` yields what has arrived of a block (256 KiB pieces) as it would from a
 * store, not only whole blocks.
 */
function fileReader(blockSize: number): BlockReader {
  return new BlockReader({ blockSize, sources: [new FaultySource(new FileSource(), { pieceBytes: 64 * KiB })] })
}

// The fixtures are part of the repository: a missing one throws here and fails the run.
const expected = JSON.parse(readFileSync(tensorflowFixture('expected.json'), 'utf8')) as Expected

test('expected.json describes both TensorFlow-written files', () => {
  assert.equal(expected.files.map((f) => f.file).sort(), ['tfx_mnist_1000.tfrecord', 'tfx_penguin_train_234.tfrecord.gz'])
})

for (const file of expected.files) {
  for (const chunkBytes of [4096, 1 << 20]) {
    test(`${file.file}: records, CRCs and Examples as TensorFlow wrote them (chunks of ${chunkBytes})`, async () => {
      const reader = fileReader(chunkBytes)
      const path = tensorflowFixture(file.file)
      const ds = tfrecords(reader, path) // compression auto-detected
      const payload = createHash('sha256')
      let n = 0
      let bytes = 0
      for await (const r of ds) {
        payload.update(r)
        n++
        bytes += r.length
      }
      assert.is(n, file.records)
      assert.is(bytes, file.payloadBytes)
      assert.is(payload.digest('hex'), file.payloadSha256)

      const seen: Record<string, { min: number; max: number; present: number; kind: string }> = {}
      let first: Example | undefined
      for await (const ex of ds.examples({ int64: 'number' })) {
        first ??= ex
        for (const [name, f] of Object.entries(ex)) {
          const count = f.value.length
          const s = (seen[name] ??= { min: Infinity, max: 0, present: 0, kind: f.kind })
          s.min = Math.min(s.min, count)
          s.max = Math.max(s.max, count)
          s.present++
          assert.is(f.kind, s.kind)
        }
      }
      for (const [name, want] of Object.entries(file.features)) {
        const got = seen[name]
        assert.ok(got, `feature ${name}`)
        assert.equal([got!.kind, got!.min, got!.max, got!.present], [want.kind, want.minValues, want.maxValues, want.present], name)
      }
      for (const [name, want] of Object.entries(file.firstRecord)) {
        const got = Array.from(first![name]!.value as ArrayLike<number>).slice(0, want.length)
        got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `${name}[${i}]: ${v} vs ${want[i]}`))
      }
      assert.is(reader.stats().openHandles, 0)
    })
  }

  if (file.compression === 'NONE') {
    test(`${file.file}: our writer reproduces TensorFlow's bytes exactly`, async () => {
      const original = readFileSync(tensorflowFixture(file.file))
      assert.is(createHash('sha256').update(original).digest('hex'), file.sha256, 'fixture intact')
      const records: Uint8Array[] = []
      const reader = fileReader(1 << 20)
      for await (const r of tfrecords(reader, tensorflowFixture(file.file))) records.push(r)
      await reader.close()
      assert.ok(Buffer.from(encodeTFRecords(records)).equals(original), 'encodeTFRecords')
      const sink = new PassThrough()
      const parts: Buffer[] = []
      sink.on('data', (b: Buffer) => parts.push(b))
      const w = new TFRecordWriter(sink)
      for (const r of records) await w.write(r)
      await w.close()
      assert.ok(Buffer.concat(parts).equals(original), 'TFRecordWriter')
    })
  }
}

test.run()
