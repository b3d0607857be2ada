import protobuf from 'protobufjs/minimal.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ExampleDecodeError } from '../lib/index.js'
import {
  decodeExample,
  decodeSequenceExample,
  encodeExample,
  encodeSequenceExample,
  exampleType,
  sequenceExampleType,
  type Feature,
} from '../loaders/tfrecord/index.js'
import { errorLike } from './support/expect-error.js'

const te = new TextEncoder()
const td = new TextDecoder()

function values(f: Feature | undefined): unknown {
  if (!f) return undefined
  if (f.kind === 'bytes') return f.value.map((v) => td.decode(v))
  if (f.kind === 'int64') return Array.from(f.value as ArrayLike<bigint | number>, (v) => String(v))
  return Array.from(f.value as ArrayLike<number>)
}

test('encode → decode round trip for every kind', () => {
  const bytes = encodeExample({
    label: { kind: 'int64', value: [3, -1, 0] },
    big: new BigInt64Array([2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n]),
    score: new Float32Array([0.5, -2, 1e30]),
    name: ['héllo', te.encode('raw')],
    single: 'one',
    empty: { kind: 'float', value: [] },
    nothing: { kind: 'none' } as unknown as Feature,
  })
  const ex = decodeExample(bytes)
  assert.equal(Object.keys(ex), ['label', 'big', 'score', 'name', 'single', 'empty', 'nothing'])
  assert.is(ex.label!.kind, 'int64')
  assert.instance(ex.label!.value, BigInt64Array)
  assert.equal(values(ex.label), ['3', '-1', '0'])
  assert.equal(values(ex.big), [String(2n ** 62n), String(-(2n ** 63n)), String(2n ** 63n - 1n)])
  assert.instance(ex.score!.value, Float32Array)
  assert.equal(values(ex.score), [0.5, -2, Math.fround(1e30)])
  assert.equal(values(ex.name), ['héllo', 'raw'])
  assert.equal(values(ex.single), ['one'])
  assert.equal(ex.empty, { kind: 'float', value: new Float32Array(0) })
  assert.equal(ex.nothing, { kind: 'none', value: [] })
})

test('agrees with protobufjs reflection over TensorFlow\'s schema, both ways', () => {
  const Example = exampleType()
  const input = { a: { kind: 'int64' as const, value: [1, 2, -3] }, b: new Float32Array([1.5]), c: ['x', 'yz'] }
  const ours = encodeExample(input)
  const viaReflection = Example.toObject(Example.decode(ours), { longs: String, bytes: String }) as {
    features: { feature: Record<string, { int64_list?: { value: string[] }; float_list?: { value: number[] }; bytes_list?: { value: string[] } }> }
  }
  assert.equal(viaReflection.features.feature.a!.int64_list!.value, ['1', '2', '-3'])
  assert.equal(viaReflection.features.feature.b!.float_list!.value, [1.5])
  assert.equal(viaReflection.features.feature.c!.bytes_list!.value, [Buffer.from('x').toString('base64'), Buffer.from('yz').toString('base64')])
  const theirs = Example.encode(
    Example.fromObject({
      features: {
        feature: {
          a: { int64_list: { value: ['-5', '9007199254740993'] } },
          b: { float_list: { value: [0.25, 4] } },
          c: { bytes_list: { value: [Buffer.from('q')] } },
          d: {},
        },
      },
    }),
  ).finish()
  const ex = decodeExample(theirs)
  assert.equal(values(ex.a), ['-5', '9007199254740993'])
  assert.equal(values(ex.b), [0.25, 4])
  assert.equal(values(ex.c), ['q'])
  assert.is(ex.d!.kind, 'none')
})

/** Builds an Example by hand with the wire encodings writers are free to choose. */
function handBuilt(): Uint8Array {
  const w = protobuf.Writer.create()
  w.uint32(10).fork() // features
  // entry with value before key, unpacked floats
  w.uint32(10).fork()
  w.uint32(18).fork().uint32(18).fork().uint32(13).float(1).uint32(13).float(2).uint32(10).fork().float(3).ldelim().ldelim().ldelim()
  w.uint32(10).string('floats')
  w.ldelim()
  // unpacked int64s, plus an unknown field inside the list
  w.uint32(10).fork().uint32(10).string('ints')
  w.uint32(18).fork().uint32(26).fork().uint32(8).int64(7).uint32(8).int64(-7).uint32(16).uint32(99).ldelim().ldelim()
  w.ldelim()
  // entry with no value at all
  w.uint32(10).fork().uint32(10).string('novalue').ldelim()
  // unknown field in Features
  w.uint32(16).uint32(1)
  w.ldelim()
  // a second features field merges
  w.uint32(10).fork().uint32(10).fork().uint32(10).string('late').uint32(18).fork().uint32(10).fork().uint32(10).bytes(te.encode('L')).ldelim().ldelim().ldelim().ldelim()
  return w.finish()
}

test('unpacked and mixed encodings, value-before-key entries, missing values, unknown fields', () => {
  const ex = decodeExample(handBuilt())
  assert.equal(values(ex.floats), [1, 2, 3])
  assert.equal(values(ex.ints), ['7', '-7'])
  assert.equal(ex.novalue, { kind: 'none', value: [] })
  assert.equal(values(ex.late), ['L'])
  // reflection reads the same bytes the same way
  const ref = exampleType().toObject(exampleType().decode(handBuilt()), { longs: String }) as {
    features: { feature: Record<string, { float_list?: { value: number[] } }> }
  }
  assert.equal(ref.features.feature.floats!.float_list!.value, [1, 2, 3])
})

test('features filter decodes only the named keys', () => {
  const bytes = encodeExample({ a: ['1'], b: ['2'], c: new Float32Array([3]) })
  const ex = decodeExample(bytes, { features: ['c', 'a', 'missing'] })
  assert.equal(Object.keys(ex).sort(), ['a', 'c'])
})

test("int64: 'number' gives numbers when safe and refuses otherwise", () => {
  const ex = decodeExample(encodeExample({ n: { kind: 'int64', value: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0] } }), { int64: 'number' })
  assert.equal(ex.n!.value, [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0])
  assert.throws(() => decodeExample(encodeExample({ n: [2n ** 53n] }), { int64: 'number' }), errorLike(ExampleDecodeError, { code: 'ERR_SLUICE_EXAMPLE_DECODE' }))
  assert.throws(() => decodeExample(encodeExample({ n: [-(2n ** 53n)] }), { int64: 'number' }), errorLike(ExampleDecodeError, { code: 'ERR_SLUICE_EXAMPLE_DECODE' }))
  assert.throws(() => decodeExample(new Uint8Array(), { int64: 'numbers' as 'number' }), errorLike(RangeError, /int64 must be 'bigint' or 'number', got "numbers"/))
})

test('malformed input is ExampleDecodeError, never a crash or a hang', () => {
  const good = encodeExample({ a: ['hello'], b: new Float32Array([1, 2]) })
  for (let cut = 1; cut < good.length; cut++) {
    try {
      decodeExample(good.subarray(0, cut))
    } catch (err) {
      assert.instance(err, ExampleDecodeError)
      assert.is((err as ExampleDecodeError).code, 'ERR_SLUICE_EXAMPLE_DECODE')
    }
  }
  assert.throws(() => decodeExample(new Uint8Array([0x0a, 0x05, 0x0a])), errorLike(ExampleDecodeError, { code: 'ERR_SLUICE_EXAMPLE_DECODE' }))
  assert.throws(() => decodeExample(new Uint8Array([0x0f])), errorLike(ExampleDecodeError, { code: 'ERR_SLUICE_EXAMPLE_DECODE' }))
})

test('encodeExample refuses ambiguous input, naming the feature', () => {
  assert.throws(() => encodeExample({ x: [1, 2] as unknown as bigint[] }), /x: plain number arrays are ambiguous/)
  assert.throws(() => encodeExample({ y: { kind: 'int64', value: [1.5] } }), /y: int64 value 1.5/)
})

test('SequenceExample: context and feature lists, agreeing with reflection', () => {
  const bytes = encodeSequenceExample({
    context: { id: ['seq-1'], length: [3n] },
    featureLists: {
      tokens: [[1n], [2n, 3n], { kind: 'int64', value: [] }],
      frames: [new Float32Array([0.5, 0.25]), new Float32Array([1])],
    },
  })
  const se = decodeSequenceExample(bytes)
  assert.equal(values(se.context.id), ['seq-1'])
  assert.equal(se.featureLists.tokens!.map(values), [['1'], ['2', '3'], []])
  assert.equal(se.featureLists.frames!.map(values), [[0.5, 0.25], [1]])
  const filtered = decodeSequenceExample(bytes, { features: ['frames'] })
  assert.equal(Object.keys(filtered.featureLists), ['frames'])
  assert.equal(Object.keys(filtered.context), [])
  const T = sequenceExampleType()
  const ref = T.toObject(T.decode(bytes), { longs: String }) as {
    feature_lists: { feature_list: Record<string, { feature: { int64_list?: { value: string[] } }[] }> }
  }
  assert.equal(ref.feature_lists.feature_list.tokens!.feature.map((f) => f.int64_list?.value ?? []), [['1'], ['2', '3'], []])
  const theirs = T.encode(
    T.fromObject({
      context: { feature: { k: { float_list: { value: [2] } } } },
      feature_lists: { feature_list: { w: { feature: [{ bytes_list: { value: [Buffer.from('a')] } }, {}] } } },
    }),
  ).finish()
  const se2 = decodeSequenceExample(theirs)
  assert.equal(values(se2.context.k), [2])
  assert.equal(se2.featureLists.w!.map((f) => f.kind), ['bytes', 'none'])
})

test('bytes values are views of the record, not copies', () => {
  const bytes = encodeExample({ img: [new Uint8Array(1000).fill(7)] })
  const ex = decodeExample(bytes)
  const v = (ex.img!.value as Uint8Array[])[0]!
  assert.is(v.buffer, bytes.buffer)
})

test.run()
