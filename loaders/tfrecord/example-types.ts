/**
 * The shapes of decoded `tf.train.Example`s and `tf.train.SequenceExample`s, shared by the
 * decoder (example-codec.ts) and the encoder (example-encoder.ts), and the one platform fact
 * both rely on.
 */

/** Float32Array memory is the wire's byte order: packed floats are one copy each way. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

export interface BytesFeature {
  kind: 'bytes'
  /** Views of the record's bytes; treat as read-only. */
  value: Uint8Array[]
}
export interface FloatFeature {
  kind: 'float'
  value: Float32Array
}
export interface Int64Feature {
  kind: 'int64'
  /** `BigInt64Array` by default; `number[]` when decoding with `int64: 'number'`. */
  value: BigInt64Array | number[]
}
/** A Feature present in the map with no value kind set: TensorFlow reads it as an empty list. */
export interface EmptyFeature {
  kind: 'none'
  value: []
}
export type Feature = BytesFeature | FloatFeature | Int64Feature | EmptyFeature

/** A decoded `tf.train.Example`: feature name → feature (an object with no prototype). */
export type Example = Record<string, Feature>

/** A decoded `tf.train.SequenceExample`. */
export interface SequenceExample {
  context: Example
  featureLists: Record<string, Feature[]>
}
