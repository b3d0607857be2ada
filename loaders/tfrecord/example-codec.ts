/**
 * `tf.train.Example` and `tf.train.SequenceExample`: their types, and a decoder specialised to
 * their schema over protobufjs's wire-level Reader (the encoder is example-encoder.ts, and
 * is re-exported here).
 *
 * Why not reflection: `Type.decode` allocates a generic message per Feature and per list and a
 * Long per int64, then `toObject` converts again. Decoding here goes straight to the output
 * types: bytes values are `subarray` views of the record (no copy), packed floats are one
 * memcpy into a Float32Array, int64 varints are written as 32-bit halves into the memory of a
 * BigInt64Array (no BigInt per value). Features outside the `features` filter are skipped
 * without being decoded.
 *
 * Wire tolerance, as any protobuf parser must: packed and unpacked repeated scalars (also
 * mixed), map entries with value before key or with either missing, unknown fields skipped,
 * a Feature with no kind set (decoded as kind `none`, an empty list of any type), and a
 * repeated `features` field merged into one map.
 */
import protobuf from 'protobufjs/minimal.js'
import { ExampleDecodeError } from '../../lib/index.js'
import { LITTLE_ENDIAN, type Example, type Feature, type SequenceExample } from './example-types.js'

export type { BytesFeature, EmptyFeature, Example, Feature, FloatFeature, Int64Feature, SequenceExample } from './example-types.js'

export interface DecodeOptions {
  /** Decode only these feature names (context and feature-list names for SequenceExamples). Default: all. */
  features?: Iterable<string> | undefined
  /**
   * int64 output: `'bigint'` (default) gives a `BigInt64Array`; `'number'` gives `number[]` and
   * fails with ExampleDecodeError if a value is outside ±(2^53 − 1).
   */
  int64?: 'bigint' | 'number' | undefined
}

/** Options resolved once per iterator, not per record. */
export interface ResolvedDecodeOptions {
  filter: Set<string> | undefined
  int64Numbers: boolean
}

export function resolveDecodeOptions(options: DecodeOptions = {}, what = 'examples'): ResolvedDecodeOptions {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object`)
  const { features, int64 } = options
  if (int64 !== undefined && int64 !== 'bigint' && int64 !== 'number') {
    throw new RangeError(`${what}: int64 must be 'bigint' or 'number', got ${JSON.stringify(int64)}`)
  }
  let filter: Set<string> | undefined
  if (features !== undefined) {
    if (typeof features === 'string' || typeof (features as Iterable<string>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`${what}: features must be an array (or iterable) of feature names`)
    }
    filter = new Set(features)
  }
  return { filter, int64Numbers: int64 === 'number' }
}


// ---------------------------------------------------------------------------------------------
// decoding

/** Decodes one serialized `tf.train.Example`. Throws ExampleDecodeError on malformed input. */
export function decodeExample(bytes: Uint8Array, options: ResolvedDecodeOptions | DecodeOptions = {}): Example {
  const opts = 'int64Numbers' in options ? options : resolveDecodeOptions(options)
  const out: Example = Object.create(null)
  try {
    const r = protobuf.Reader.create(bytes)
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag === 10) {
        const end = r.uint32() + r.pos
        checkEnd(r, end)
        decodeFeatures(r, end, out, opts)
      } else {
        skip(r, tag)
      }
    }
  } catch (err) {
    throw asDecodeError(err, 'tf.train.Example')
  }
  return out
}

/** Decodes one serialized `tf.train.SequenceExample`. */
export function decodeSequenceExample(bytes: Uint8Array, options: ResolvedDecodeOptions | DecodeOptions = {}): SequenceExample {
  const opts = 'int64Numbers' in options ? options : resolveDecodeOptions(options, 'sequenceExamples')
  const context: Example = Object.create(null)
  const featureLists: Record<string, Feature[]> = Object.create(null)
  try {
    const r = protobuf.Reader.create(bytes)
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag === 10 || tag === 18) {
        const end = r.uint32() + r.pos
        checkEnd(r, end)
        if (tag === 10) decodeFeatures(r, end, context, opts)
        else decodeFeatureLists(r, end, featureLists, opts)
      } else {
        skip(r, tag)
      }
    }
  } catch (err) {
    throw asDecodeError(err, 'tf.train.SequenceExample')
  }
  return { context, featureLists }
}

/**
 * Walks the entries of a protobuf `map<string, message>` field 1 in `[r.pos, end)`, calling
 * `visit(key, valueStart, valueEnd)` for each key the filter keeps (`valueStart` is -1 when
 * the entry has no value). Entries may come in any order and unknown fields are skipped.
 */
function forEachMapEntry(
  r: protobuf.Reader,
  end: number,
  opts: ResolvedDecodeOptions,
  visit: (key: string, valueStart: number, valueEnd: number) => void,
): void {
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag !== 10) {
      skip(r, tag)
      continue
    }
    const entryEnd = r.uint32() + r.pos
    checkEnd(r, entryEnd)
    let key = ''
    let valueStart = -1
    let valueEnd = -1
    while (r.pos < entryEnd) {
      const t = r.uint32()
      if (t === 10) key = r.string()
      else if (t === 18) {
        valueEnd = r.uint32() + r.pos
        checkEnd(r, valueEnd)
        valueStart = r.pos
        r.pos = valueEnd
      } else skip(r, t)
    }
    if (opts.filter === undefined || opts.filter.has(key)) visit(key, valueStart, valueEnd)
    r.pos = entryEnd
  }
  r.pos = end
}

/** `Features { map<string, Feature> feature = 1; }` in `[r.pos, end)`, merged into `out`. */
function decodeFeatures(r: protobuf.Reader, end: number, out: Example, opts: ResolvedDecodeOptions): void {
  forEachMapEntry(r, end, opts, (key, valueStart, valueEnd) => {
    out[key] = valueStart < 0 ? { kind: 'none', value: [] } : decodeFeature(r, valueStart, valueEnd, opts, key)
  })
}

/** `FeatureLists { map<string, FeatureList> feature_list = 1; }`, FeatureList = repeated Feature. */
function decodeFeatureLists(r: protobuf.Reader, end: number, out: Record<string, Feature[]>, opts: ResolvedDecodeOptions): void {
  forEachMapEntry(r, end, opts, (key, valueStart, valueEnd) => {
    const list: Feature[] = []
    if (valueStart >= 0) {
      r.pos = valueStart
      while (r.pos < valueEnd) {
        const t = r.uint32()
        if (t === 10) {
          const fEnd = r.uint32() + r.pos
          if (fEnd > valueEnd) throw new Error(`feature runs past its list ${JSON.stringify(key)}`)
          list.push(decodeFeature(r, r.pos, fEnd, opts, key))
          r.pos = fEnd
        } else skip(r, t)
      }
    }
    out[key] = list
  })
}

/** `Feature { oneof kind { BytesList = 1; FloatList = 2; Int64List = 3 } }` in `[start, end)` of `r`; the last kind seen wins. */
function decodeFeature(r: protobuf.Reader, start: number, end: number, opts: ResolvedDecodeOptions, key: string): Feature {
  const saved = r.pos
  r.pos = start
  let feature: Feature = { kind: 'none', value: [] }
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10 || tag === 18 || tag === 26) {
      const listEnd = r.uint32() + r.pos
      if (listEnd > end) throw new Error(`list runs past its feature ${JSON.stringify(key)}`)
      if (tag === 10) feature = { kind: 'bytes', value: decodeBytesList(r, listEnd) }
      else if (tag === 18) feature = { kind: 'float', value: decodeFloatList(r, listEnd) }
      else feature = { kind: 'int64', value: decodeInt64List(r, listEnd, opts.int64Numbers, key) }
      if (r.pos !== listEnd) throw new Error(`malformed list in feature ${JSON.stringify(key)}`)
    } else skip(r, tag)
  }
  if (r.pos !== end) throw new Error(`malformed feature ${JSON.stringify(key)}`)
  r.pos = saved
  return feature
}

function decodeBytesList(r: protobuf.Reader, end: number): Uint8Array[] {
  const values: Uint8Array[] = []
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) {
      const n = r.uint32()
      if (r.pos + n > end) throw new Error('bytes value runs past its list')
      values.push(r.buf.subarray(r.pos, r.pos + n))
      r.pos += n
    } else skip(r, tag)
  }
  return values
}

function decodeFloatList(r: protobuf.Reader, end: number): Float32Array {
  // fast path: exactly one packed run covering the list, the encoding every writer uses
  const buf = r.buf
  if (r.pos < end && buf[r.pos] === 10) {
    r.pos++
    const n = r.uint32()
    if (r.pos + n === end && n % 4 === 0) {
      const out = new Float32Array(n / 4)
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf.subarray(r.pos, end))
      else for (let i = 0, p = r.pos; i < out.length; i++, p += 4) out[i] = readFloatLE(buf, p)
      r.pos = end
      return out
    }
    r.pos -= 1 + varintLength(n)
  }
  const values: number[] = []
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) {
      const runEnd = r.uint32() + r.pos
      checkEnd(r, runEnd)
      if ((runEnd - r.pos) % 4 !== 0) throw new Error('packed float run length is not a multiple of 4')
      while (r.pos < runEnd) values.push(r.float())
    } else if (tag === 13) values.push(r.float())
    else skip(r, tag)
  }
  return Float32Array.from(values)
}

function readFloatLE(buf: Uint8Array, p: number): number {
  return new DataView(buf.buffer, buf.byteOffset + p, 4).getFloat32(0, true)
}

function varintLength(n: number): number {
  let len = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** Scratch for int64 halves (lo, hi pairs); grows, reused across records. */
let scratch = new Int32Array(256)

function decodeInt64List(r: protobuf.Reader, end: number, numbers: boolean, key: string): BigInt64Array | number[] {
  const buf = r.buf
  let n = 0
  let pos = r.pos
  while (pos < end) {
    const tag = buf[pos]!
    if (tag === 10) {
      r.pos = pos + 1
      const runEnd = r.uint32() + r.pos
      checkEnd(r, runEnd)
      pos = r.pos
      while (pos < runEnd) {
        if (2 * n + 2 > scratch.length) grow()
        pos = readVarint64(buf, pos, runEnd, scratch, 2 * n)
        n++
      }
    } else if (tag === 8) {
      if (2 * n + 2 > scratch.length) grow()
      pos = readVarint64(buf, pos + 1, end, scratch, 2 * n)
      n++
    } else {
      r.pos = pos
      skip(r, r.uint32())
      pos = r.pos
    }
  }
  r.pos = end
  if (!numbers) {
    const out = new BigInt64Array(n)
    if (n <= 4) {
      // short lists (labels, sizes): per-value BigInts are cheaper than a second typed-array view
      for (let i = 0; i < n; i++) {
        const hi = scratch[2 * i + 1]!
        const lo = scratch[2 * i]! >>> 0
        out[i] = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo)
      }
    } else if (LITTLE_ENDIAN) new Int32Array(out.buffer).set(scratch.subarray(0, 2 * n))
    else for (let i = 0; i < n; i++) out[i] = (BigInt(scratch[2 * i + 1]!) << 32n) | BigInt(scratch[2 * i]! >>> 0)
    return out
  }
  const out: number[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const hi = scratch[2 * i + 1]!
    const lo = scratch[2 * i]! >>> 0
    if (hi < -0x200000 || hi >= 0x200000 || (hi === -0x200000 && lo === 0)) {
      throw new ExampleDecodeError(`int64 value in feature ${JSON.stringify(key)} is not a safe integer; decode with int64: 'bigint'`)
    }
    out[i] = hi * 4294967296 + lo
  }
  return out
}

function grow(): void {
  const next = new Int32Array(scratch.length * 2)
  next.set(scratch)
  scratch = next
}

/** Reads one varint (up to 64 bits) at `pos`, stores its low and high 32 bits at `out[at]`, `out[at+1]`. */
function readVarint64(buf: Uint8Array, pos: number, end: number, out: Int32Array, at: number): number {
  let lo = 0
  let hi = 0
  let b = 0
  for (let i = 0; i < 4; i++) {
    if (pos >= end) throw new Error('varint runs past its field')
    b = buf[pos++]!
    lo |= (b & 127) << (7 * i)
    if (b < 128) {
      out[at] = lo
      out[at + 1] = 0
      return pos
    }
  }
  if (pos >= end) throw new Error('varint runs past its field')
  b = buf[pos++]!
  lo |= (b & 127) << 28
  hi = (b & 127) >> 4
  if (b >= 128) {
    for (let i = 0; ; i++) {
      if (i === 5) throw new Error('varint longer than 10 bytes')
      if (pos >= end) throw new Error('varint runs past its field')
      b = buf[pos++]!
      hi |= (b & 127) << (7 * i + 3)
      if (b < 128) break
    }
  }
  out[at] = lo
  out[at + 1] = hi
  return pos
}

function skip(r: protobuf.Reader, tag: number): void {
  const wireType = tag & 7
  if (tag >>> 3 === 0 || wireType === 3 || wireType === 4 || wireType > 5) {
    throw new Error(`invalid tag ${tag} at byte ${r.pos}`)
  }
  r.skipType(wireType)
}

function checkEnd(r: protobuf.Reader, end: number): void {
  if (end > r.len) throw new Error(`length-delimited field runs past its message (${end} > ${r.len})`)
}

function asDecodeError(err: unknown, what: string): ExampleDecodeError {
  if (err instanceof ExampleDecodeError) return err
  return new ExampleDecodeError(`malformed ${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

export { encodeExample, encodeSequenceExample, type FeatureInput, type ExampleInput, type SequenceExampleInput } from './example-encoder.js'
