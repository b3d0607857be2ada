/**
 * The encoder of `tf.train.Example` and `tf.train.SequenceExample`, over protobufjs's
 * wire-level Writer (the decoder is example-codec.ts). It takes decoded Features or the
 * shorthand users write by hand, and writes lists packed, features in the object's key
 * order, so our bytes match TensorFlow's for the same Example.
 */
import protobuf from 'protobufjs/minimal.js'
import { LITTLE_ENDIAN, type Feature } from './example-types.js'

/**
 * What {@link encodeExample} accepts per feature: a decoded {@link Feature}, or shorthand:
 * `Uint8Array[]` / `string[]` / one `Uint8Array` or `string` → bytes (strings as UTF-8);
 * `Float32Array` / `Float64Array` → float; `BigInt64Array` / `bigint[]` → int64;
 * `{ kind: 'float' | 'int64', value: number[] }` when plain numbers are meant.
 */
export type FeatureInput =
  | Feature
  | { kind: 'bytes'; value: readonly (Uint8Array | string)[] }
  | { kind: 'float'; value: ArrayLike<number> }
  | { kind: 'int64'; value: ArrayLike<number | bigint> }
  | readonly (Uint8Array | string)[]
  | Uint8Array
  | string
  | Float32Array
  | Float64Array
  | BigInt64Array
  | readonly bigint[]

export type ExampleInput = Record<string, FeatureInput> | Map<string, FeatureInput>

/** Serializes a `tf.train.Example`. Features are written in the object's key order, lists packed. */
export function encodeExample(features: ExampleInput): Uint8Array {
  const w = protobuf.Writer.create()
  w.uint32(10).fork()
  writeFeatures(w, features, 'encodeExample')
  w.ldelim()
  return w.finish()
}

export interface SequenceExampleInput {
  context?: ExampleInput
  featureLists?: Record<string, readonly FeatureInput[]> | Map<string, readonly FeatureInput[]>
}

/** Serializes a `tf.train.SequenceExample`. */
export function encodeSequenceExample(input: SequenceExampleInput): Uint8Array {
  const w = protobuf.Writer.create()
  if (input.context !== undefined) {
    w.uint32(10).fork()
    writeFeatures(w, input.context, 'encodeSequenceExample: context')
    w.ldelim()
  }
  if (input.featureLists !== undefined) {
    w.uint32(18).fork()
    const entries = input.featureLists instanceof Map ? [...input.featureLists] : Object.entries(input.featureLists)
    for (const [name, list] of entries) {
      w.uint32(10).fork().uint32(10).string(name).uint32(18).fork()
      for (const f of list) {
        w.uint32(10).fork()
        writeFeature(w, f, `encodeSequenceExample: featureLists.${name}`)
        w.ldelim()
      }
      w.ldelim().ldelim()
    }
    w.ldelim()
  }
  return w.finish()
}

function writeFeatures(w: protobuf.Writer, features: ExampleInput, what: string): void {
  if (features === null || typeof features !== 'object') throw new TypeError(`${what}: features must be an object or Map`)
  const entries = features instanceof Map ? [...features] : Object.entries(features)
  for (const [name, input] of entries) {
    w.uint32(10).fork().uint32(10).string(name).uint32(18).fork()
    writeFeature(w, input, `${what}.${name}`)
    w.ldelim().ldelim()
  }
}

const encoder = new TextEncoder()

function writeFeature(w: protobuf.Writer, input: FeatureInput, what: string): void {
  const f = normalizeFeature(input, what)
  switch (f.kind) {
    case 'bytes':
      w.uint32(10).fork()
      for (const v of f.value) w.uint32(10).bytes(typeof v === 'string' ? encoder.encode(v) : v)
      w.ldelim()
      return
    case 'float': {
      const values = f.value instanceof Float32Array ? f.value : Float32Array.from(f.value)
      w.uint32(18).fork()
      if (values.length > 0) {
        const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
        if (LITTLE_ENDIAN) w.uint32(10).bytes(bytes)
        else {
          w.uint32(10).fork()
          for (const v of values) w.float(v)
          w.ldelim()
        }
      }
      w.ldelim()
      return
    }
    case 'int64': {
      w.uint32(26).fork()
      if (f.value.length > 0) {
        w.uint32(10).fork()
        for (let i = 0; i < f.value.length; i++) w.int64(toLongBits(f.value[i]!, what) as unknown as number)
        w.ldelim()
      }
      w.ldelim()
      return
    }
    case 'none':
      return
  }
}

type NormalFeature =
  | { kind: 'bytes'; value: readonly (Uint8Array | string)[] }
  | { kind: 'float'; value: ArrayLike<number> }
  | { kind: 'int64'; value: ArrayLike<number | bigint> }
  | { kind: 'none' }

function normalizeFeature(input: FeatureInput, what: string): NormalFeature {
  if (typeof input === 'string' || input instanceof Uint8Array) return { kind: 'bytes', value: [input] }
  if (input instanceof Float32Array || input instanceof Float64Array) return { kind: 'float', value: input }
  if (input instanceof BigInt64Array) return { kind: 'int64', value: input }
  if (Array.isArray(input)) {
    if (input.length === 0) throw new TypeError(`${what}: an empty array is ambiguous; use { kind, value: [] }`)
    if (input.every((v) => typeof v === 'bigint')) return { kind: 'int64', value: input as bigint[] }
    if (input.every((v) => typeof v === 'string' || v instanceof Uint8Array)) return { kind: 'bytes', value: input as (string | Uint8Array)[] }
    throw new TypeError(`${what}: plain number arrays are ambiguous; use { kind: 'float' | 'int64', value }`)
  }
  if (input !== null && typeof input === 'object' && 'kind' in input) {
    const kind = (input as { kind: unknown }).kind
    if (kind === 'bytes' || kind === 'float' || kind === 'int64') return input as NormalFeature
    if (kind === 'none') return { kind: 'none' }
    throw new TypeError(`${what}: kind must be 'bytes', 'float', 'int64' or 'none', got ${JSON.stringify(kind)}`)
  }
  throw new TypeError(`${what}: unsupported feature value`)
}

function toLongBits(v: number | bigint, what: string): { low: number; high: number } {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${what}: int64 value ${v} is not a safe integer; pass a bigint`)
    v = BigInt(v)
  }
  const u = BigInt.asUintN(64, v)
  if (BigInt.asIntN(64, v) !== v) throw new RangeError(`${what}: ${v} does not fit in int64`)
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 }
}
