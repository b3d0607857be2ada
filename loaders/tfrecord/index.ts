/**
 * `sluice/tfrecord`: TFRecord shards from object storage as verified, shuffled, sharded and
 * resumable streams of records or decoded `tf.train.Example`s, plus the writer, the Example
 * codec and record indexes.
 *
 * Layout: framing.ts (record framing and checks) ← shard-reader.ts (one shard) ←
 * sequential-run.ts (record-queue.ts, shard-hinter.ts, shuffle-buffer.ts) and global-run.ts
 * (ranged reads by record-index.ts) ← run.ts (plan.ts, pieces.ts, state.ts, elastic.ts,
 * delivery.ts) ← dataset.ts, with stream.ts its views; elastic.ts also gives `mergeStates`;
 * example-codec.ts and writer.ts stand alone. Only lib's public types and errors are used
 * from the core.
 */
export { tfrecords, TFRecordDataset } from './dataset.js'
export { TFRecordStream, type BatchOptions } from './stream.js'
export type { TFRecordStats } from './stats.js'
export type { TFRecordOptions, ShuffleOptions, ShardOptions, ReadAheadOptions } from './options.js'
export type { TFRecordState, TFRecordElastic } from './state.js'
export type { Piece } from './pieces.js'
export { mergeStates } from './elastic.js'
export type { TFRecordSource } from './sources.js'
export { resolveSources } from './sources.js'
export type { Compression, CompressionOption } from './compression.js'
export { sniffCompression } from './compression.js'
export {
  decodeExample,
  decodeSequenceExample,
  encodeExample,
  encodeSequenceExample,
  type Example,
  type SequenceExample,
  type Feature,
  type BytesFeature,
  type FloatFeature,
  type Int64Feature,
  type EmptyFeature,
  type FeatureInput,
  type ExampleInput,
  type SequenceExampleInput,
  type DecodeOptions,
} from './example-codec.js'
export { EXAMPLE_PROTO, exampleProtoRoot, exampleType, sequenceExampleType } from './example-schema.js'
export { TFRecordWriter, encodeTFRecords, type TFRecordWriterOptions } from './writer.js'
export {
  recordIndex,
  recordAt,
  toDaliIndex,
  parseDaliIndex,
  importDaliIndex,
  type RecordIndex,
  type IndexOptions,
  type RecordAtOptions,
} from './record-index.js'
export { maskCrc, unmaskCrc, maskedCrc32c } from './crc.js'
export { TFRecordCorruptionError, ExampleDecodeError } from '../../lib/index.js'
