/**
 * What the mount needs from the core: an `ObjectReader` whose `open` also takes the
 * `ObjectInfo` a listing returned, so that opening a listed file pins that version without
 * another request to the store, and whose block size, when known, sizes the read windows.
 * `BlockReader` is one.
 */
import type { ObjectHandle, ObjectInfo, ObjectReader, ReadOptions } from '../lib/index.js'

export interface MountReader extends Omit<ObjectReader, 'open'> {
  /** The cache's block size; FUSE reads are served from windows of this size. Default 4 MiB. */
  readonly blockSize?: number
  open(target: string | ObjectInfo, options?: ReadOptions): Promise<ObjectHandle>
}
