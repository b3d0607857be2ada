/**
 * What the mount needs from the core: an `ObjectReader` whose `open` also takes the
 * `ObjectInfo` a listing returned, so that opening a listed file pins that version without
 * another request to the store, whose block size, when known, sizes the read windows, and
 * whose tiers, when known, say whether there is a memory tier (without one, windows are read
 * into pooled buffers). `BlockReader` is one.
 */
import type { ObjectHandle, ObjectInfo, ObjectReader, ReadOptions } from '../lib/index.js'

export interface MountReader extends Omit<ObjectReader, 'open'> {
  /** The cache's block size; FUSE reads are served from windows of this size. Default 4 MiB. */
  readonly blockSize?: number
  open(target: string | ObjectInfo, options?: ReadOptions): Promise<ObjectHandle>
  /** The cache's tiers (BlockReader.stats). */
  stats?(): { tiers: readonly { name: string; maxBytes: number }[] }
}
