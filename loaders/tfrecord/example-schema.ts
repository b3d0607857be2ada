/**
 * TensorFlow's `example.proto` and `feature.proto` (tensorflow/core/example), as protobufjs
 * reflection types.
 *
 * The hot decoder in example-codec.ts does not use these: reflection decoding builds generic
 * objects and Long values and is several times slower than a decoder written for this one
 * schema over protobufjs's Reader. They are exported for users who want TensorFlow's message
 * types as such (for example to decode with `toObject` options of their own), and the tests use
 * them as the independent reference that the fast decoder and the encoder must agree with.
 */
import protobuf from 'protobufjs'

/** The message definitions, verbatim in substance from TensorFlow (comments dropped). */
export const EXAMPLE_PROTO = `
syntax = "proto3";
package tensorflow;

message BytesList { repeated bytes value = 1; }
message FloatList { repeated float value = 1 [packed = true]; }
message Int64List { repeated int64 value = 1 [packed = true]; }
message Feature {
  oneof kind {
    BytesList bytes_list = 1;
    FloatList float_list = 2;
    Int64List int64_list = 3;
  }
}
message Features { map<string, Feature> feature = 1; }
message FeatureList { repeated Feature feature = 1; }
message FeatureLists { map<string, FeatureList> feature_list = 1; }

message Example { Features features = 1; }
message SequenceExample {
  Features context = 1;
  FeatureLists feature_lists = 2;
}
`

let root: protobuf.Root | undefined

/** The parsed schema (built once, on first use). */
export function exampleProtoRoot(): protobuf.Root {
  root ??= protobuf.parse(EXAMPLE_PROTO, { keepCase: true }).root
  return root
}

/** `tensorflow.Example` as a protobufjs reflection type. */
export function exampleType(): protobuf.Type {
  return exampleProtoRoot().lookupType('tensorflow.Example')
}

/** `tensorflow.SequenceExample` as a protobufjs reflection type. */
export function sequenceExampleType(): protobuf.Type {
  return exampleProtoRoot().lookupType('tensorflow.SequenceExample')
}
