/**
 * The public API of sluice's core. Front ends (loaders/, fuse/, bin/) import only from here;
 * if they need more, it belongs in this list.
 */
export { BlockReader } from './block-reader.js'
export type { BlockReaderOptions, DiskDirOptions } from './options.js'
export type {
  ObjectInfo,
  ObjectHandle,
  ObjectReader,
  ReadOptions,
  ReaderStats,
  TierStats,
  DiskDirStats,
  RecordedCounts,
  ClusterTierCounts,
  SourceStats,
  PrefetchStats,
  PreloadOptions,
  PreloadProgress,
  PreloadResult,
  PreloadedObject,
  PlannedRead,
  PlanOptions,
  ReadPlan,
} from './types.js'
export * from './errors.js'
export { KiB, MiB, GiB, TiB, parseSize, formatBytes } from './units.js'
export { schemeOf, parseS3Url, canonicalUrl, filePathOf } from './url.js'
export type { Source, RangeReadOptions } from './source/source.js'
export { S3Source } from './source/s3-source.js'
export { makeS3Client, type S3Options, type S3Credentials } from './source/s3-client.js'
export { FileSource } from './source/file-source.js'
export { HttpSource } from './source/http-source.js'
export { RetryingSource, type RetryOptions } from './source/retrying-source.js'
export { MemorySource } from './source/memory-source.js'
export type { BlockStore } from './cache/block-store.js'
export { MemoryBlockStore } from './cache/memory-block-store.js'
export { LmdbBlockStore, type CachedObjectRecord } from './cache/lmdb-block-store.js'
export { DiskSet, type DiskSetOptions } from './cache/disk-set.js'
export { TieredBlockCache } from './cache/tiered-block-cache.js'
export { RedisClusterBlockStore, type RedisClusterStoreOptions } from './cache/redis-cluster-block-store.js'
