/**
 * The public shapes that cross layers: what an object is, what a handle offers, what stats
 * and preload report. Front ends (loaders/, fuse/, bin/) program against these, so they are
 * kept free of implementation detail.
 */
import type { Readable } from 'node:stream'

/** One object version as a source sees it. */
export interface ObjectInfo {
  /** Canonical URL (`s3://bucket/key`, `file:///abs/path`, `https://host/path`). */
  readonly url: string
  /** Size in bytes. */
  readonly size: number
  /** What pins the bytes: the ETag for S3/HTTP, size-mtime-inode for files. */
  readonly version: string
  /** Last modification time in ms since the epoch, when the source knows it. */
  readonly mtimeMs?: number
}

export interface ReadOptions {
  signal?: AbortSignal
}

/** An open object pinned to one version. */
export interface ObjectHandle {
  readonly url: string
  readonly size: number
  readonly version: string
  readonly info: ObjectInfo
  /**
   * Reads `length` bytes at `position`. Short only at the end of the object. The result may be
   * a view of a cached block: it must not be written to (that would change the bytes every
   * other reader of the block gets; copy first, or use readInto). The cache never reuses or
   * mutates a block it has handed out, so the view stays valid after later reads and evictions.
   */
  read(position: number, length: number, options?: ReadOptions): Promise<Uint8Array>
  /** Reads into `target[offset..]`; resolves to the number of bytes written (short only at EOF). */
  readInto(target: Uint8Array, offset: number, position: number, length: number, options?: ReadOptions): Promise<number>
  /**
   * Sequential chunks from `start`, with read-ahead: views (never reused or mutated) of the
   * rest of each block, or, while a block is still arriving from the store, of what has
   * arrived (at least 256 KiB), so a consumer starts on a cold object after one round trip.
   */
  chunks(options?: { start?: number; end?: number; signal?: AbortSignal }): AsyncIterable<Uint8Array>
  /**
   * Hint: fetch `[position, position+length)` into the cache in the background (bounded, never
   * awaited). Returns the offset up to which the range is now cached, in flight or requested:
   * short of the end when the prefetch budget ran out (offer the rest again later).
   */
  prefetch(position: number, length: number): number
  /** The object (or `[start, end)` of it, end exclusive) as a Node Readable, with read-ahead. */
  createReadStream(options?: { start?: number; end?: number }): Readable
  close(): Promise<void>
}

/** One read a plan announces: bytes `[start, end)` of an object version. */
export interface PlannedRead {
  /** The version to be read, as `list`/`stat` return it: the plan pins it without a request. */
  readonly object: ObjectInfo
  readonly start: number
  readonly end: number
}

export interface PlanOptions {
  /**
   * For a node-wide plan (the reads of every rank of a node, handed to each rank's reader;
   * docs/design.md): this reader is rank `index` of `count` on one disk tier, and fetches
   * ahead only the plan's blocks whose number modulo `count` is `index`. The other ranks
   * fetch the rest, and its reads find them on disk. Default: it fetches every block ahead.
   */
  share?: { index: number; count: number }
}

/**
 * The reads a consumer will make, in order, handed to the reader before it makes them
 * (`reader.plan(reads)`). The reader then fetches blocks in plan order ahead of the
 * consumer, within its prefetch budget and never further ahead than the cache can keep, and
 * its tiers evict the block read furthest ahead first (Belady's rule), refusing a block read
 * later than everything they hold. A plan costs about 12 bytes per read (typed arrays).
 *
 * One plan per reader: a new `reader.plan()` ends the one before (whose later calls are then
 * ignored). What a loader calls, for epochs whose order it knows in advance:
 *
 * ```ts
 * const plan = reader.plan?.(readsOf(epoch))  // before the epoch's first read
 * plan?.extend(readsOf(epoch + 1))            // as soon as the next order is known (the next epoch's
 *                                             // first blocks are then kept over this one's last)
 * for (const { object, start, end } of readsOf(epoch)) {
 *   const bytes = await handleOf(object).read(start, end - start)
 *   plan?.advance()                           // this read is done: the plan moves past it
 * }
 * plan?.end()                                 // stopped early, or no plan for what follows
 * ```
 *
 * `advance` is what moves the plan, not the reads: reads outside the plan are served as usual
 * and move nothing. With several ranks on one node sharing the disk tier, give every rank the
 * node's reads, round by round (rank 0's k-th read, rank 1's k-th, ...), with `share`, and
 * advance by the number of ranks after each read of its own (docs/design.md says why).
 */
export interface ReadPlan {
  /** Reads in the plan, consumed ones included. */
  readonly length: number
  /** Reads consumed (advanced past). */
  readonly position: number
  /** True once ended (by `end`, by a new plan, or by the reader's close). */
  readonly ended: boolean
  /** Bytes the plan's arrays hold now (its steps, blocks and the tiers' heaps). */
  readonly memoryBytes: number
  /**
   * Appends reads (the next epoch). A bad read throws (a RangeError or TypeError naming it, or
   * ERR_SLUICE_INVALID_URL), and nothing is appended.
   */
  extend(reads: Iterable<PlannedRead>): void
  /** The consumer finished `steps` (default 1) more reads. RangeError past the end. */
  advance(steps?: number): void
  /**
   * Resolves once the plan's prefetch has nothing in flight and can start nothing more
   * (budget, cache capacity or the plan's end). Fills to the disk tier may still be queued:
   * `reader.flush()` waits for those. For tests and benchmarks; a loader never needs it.
   */
  idle(): Promise<void>
  /** Ends the plan: its prefetch stops and the tiers go back to their own policies. */
  end(): void
}

/** The part of BlockReader the front ends use; lets them be tested over a double. */
export interface ObjectReader {
  /** The disk tier's (first) directory, where front ends may keep derived data (indexes); undefined if memory only. */
  readonly cacheDir: string | undefined
  /** The reader's block size in bytes, when it has one (front ends align their reads to it). */
  readonly blockSize?: number
  /**
   * Opens an object pinned to its current version (one metadata request). Passing an
   * ObjectInfo from `list`/`stat` pins that version without a request.
   */
  open(target: string | ObjectInfo, options?: ReadOptions): Promise<ObjectHandle>
  stat(url: string, options?: ReadOptions): Promise<ObjectInfo>
  list(prefix: string, options?: ReadOptions): Promise<ObjectInfo[]>
  /** Hands the reader the reads to come (see ReadPlan); a reader without a cache to plan may lack it. */
  plan?(reads: Iterable<PlannedRead>, options?: PlanOptions): ReadPlan
}

/** Progress of `BlockReader.preload`, reported after each block lands. */
export interface PreloadProgress {
  url: string
  objectsDone: number
  objectsTotal: number
  bytesDone: number
  bytesTotal: number
}

export interface PreloadOptions {
  onProgress?: (progress: PreloadProgress) => void
  /** Objects fetched at once. Default 4. */
  concurrency?: number
  /** Report what would be fetched and whether it fits, fetch nothing. */
  dryRun?: boolean
  signal?: AbortSignal
}

export interface PreloadedObject {
  url: string
  size: number
  version: string
  /** Bytes of this version now resident in the disk tier (memory tier if there is no disk tier), verified. */
  residentBytes: number
  /** Bytes that would still have to come from the source. */
  missingBytes: number
}

export interface PreloadResult {
  objects: PreloadedObject[]
  requestedBytes: number
  residentBytes: number
  /** Bytes fetched from the source by this call (dry run: bytes that would be fetched). */
  fetchedBytes: number
  /** Capacity of the tier being filled, in bytes. */
  capacityBytes: number
  failed: { url: string; code: string; message: string }[]
  /** True when every requested byte is resident. */
  complete: boolean
  dryRun: boolean
}

export interface TierStats {
  name: string
  hits: number
  misses: number
  hitBytes: number
  usedBytes: number
  maxBytes: number
  entries: number
  evictions: number
  /** Object versions the disk tier has recorded (removed by evict/clear, not by block eviction). */
  objects?: number
  /** Fills refused by the admission policy or the write-behind bound. */
  droppedFills: number
  errors: number
  /** False while the tier is bypassed after repeated errors. */
  healthy: boolean
  lastError?: string
  /**
   * Disk tier only: counts kept in the cache directory by every process that used it, this
   * one included (saved every 5 s and on close; a killed process loses its last 5 s).
   */
  recorded?: RecordedCounts
  /** Cluster tier only: what its integrity checks and fill leases saw in this process. */
  cluster?: ClusterTierCounts
  /**
   * Disk tier of several directories (`disk.dirs`) only: each directory's own stats. The
   * tier's counts and usage are their sums; it is healthy while any directory is.
   */
  dirs?: DiskDirStats[]
}

/** One directory of a disk tier spread over several: its usage, counts and health. */
export interface DiskDirStats extends TierStats {
  path: string
}

/** The cluster tier's own counts (this process's, since it started). */
export interface ClusterTierCounts {
  /** Values dropped because their header, length, key or CRC32C did not check out. */
  crcFailures: number
  /** Values dropped because their HMAC was missing or wrong (only with a `secret`). */
  authFailures: number
  /** Blocks whose fill lease this process won (it fetches them for the cluster). */
  leasesWon: number
  /** Blocks fetched without a lease because the full cluster refused to store one (noeviction). */
  leasesUnavailable: number
  /** Blocks this process waited for while another node held the lease. */
  leasesWaited: number
  /** Of those, blocks whose value arrived while waiting. */
  leasesFilled: number
  /** Of those, blocks whose lease ended (expired or released) without a value. */
  leasesExpired: number
  /** Of those, blocks still leased elsewhere when the wait ran out. */
  leaseTimeouts: number
  /** Bulks read from the socket straight into their blocks (cluster-bulk-reader.ts). */
  directReads: number
  /** Bulks that reader left to ioredis: a redirection, an error reply, a connection that failed, TLS. */
  clientReads: number
}

/** A disk tier's history, summed over the processes that used its cache directory. */
export interface RecordedCounts {
  hits: number
  hitBytes: number
  misses: number
  evictions: number
  droppedFills: number
  /** When the first counts were recorded (ms since the epoch); `cache clear` keeps them. */
  sinceMs: number
}

export interface SourceStats {
  /** Every request sent, retries included. */
  requests: number
  /** Ranged reads (GETs) among them. */
  gets: number
  /** Metadata requests (HEAD / stat) among them. */
  stats: number
  /** Listing pages among them. */
  lists: number
  bytes: number
  retries: number
  errors: number
  /** stat/list answered from the cache while the store was unreachable (offline: 'stale-ok'). */
  staleAnswers?: number
}

export interface PrefetchStats {
  /** Blocks fetched ahead of any read. */
  issuedBlocks: number
  /** Of those, blocks a read then used. */
  usedBlocks: number
  /**
   * Of those, blocks that left the memory tier unread, or were still unread when the reader
   * closed: after close, issued = used + wasted + blocks whose fetch failed.
   */
  wastedBlocks: number
  inflightBytes: number
  maxInflightBytes: number
}

export interface ReaderStats {
  tiers: TierStats[]
  source: SourceStats
  prefetch: PrefetchStats
  /** Objects currently open. */
  openHandles: number
}
