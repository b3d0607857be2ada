/**
 * An in-memory `ObjectReader` for FUSE tests that need what a real store cannot easily give:
 * rewriting an object under an open file, failures on demand, and exact counts of opens and
 * reads. It honours the same contract as BlockReader (handles pin a version; a read after the
 * object changed rejects with ERR_SLUICE_OBJECT_CHANGED) and raises errors with the same codes.
 */
import type { ObjectHandle, ObjectInfo } from '../../lib/index.js'
import type { MountReader } from '../../fuse/index.js'

interface StoredObject {
  bytes: Uint8Array
  version: string
  mtimeMs: number
}

class CodedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message)
  }
}

export class FuseReaderDouble implements MountReader {
  readonly cacheDir = undefined
  readonly objects = new Map<string, StoredObject>()
  counts = { opens: 0, reads: 0, lists: 0, closes: 0 }
  /** When set, reads of URLs matching it reject with this code. */
  failReads: { match: RegExp; code: string } | undefined
  /** When set, listings reject with this code. */
  failList: string | undefined
  private versionCounter = 0

  put(url: string, bytes: Uint8Array, mtimeMs = Date.UTC(2024, 0, 2, 3, 4, 5)): ObjectInfo {
    const version = `"v${++this.versionCounter}"`
    this.objects.set(url, { bytes, version, mtimeMs })
    return this.infoOf(url)!
  }

  delete(url: string): void {
    this.objects.delete(url)
  }

  private infoOf(url: string): ObjectInfo | undefined {
    const o = this.objects.get(url)
    return o && { url, size: o.bytes.length, version: o.version, mtimeMs: o.mtimeMs }
  }

  async stat(url: string): Promise<ObjectInfo> {
    const info = this.infoOf(url)
    if (!info) throw new CodedError('ERR_SLUICE_NOT_FOUND', `object not found: ${url}`)
    return info
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.counts.lists++
    if (this.failList) throw new CodedError(this.failList, `listing ${prefix} failed`)
    return [...this.objects.keys()].filter((u) => u.startsWith(prefix)).sort().map((u) => this.infoOf(u)!)
  }

  /** Like BlockReader: a URL opens the current version, an ObjectInfo pins the one given. */
  async open(target: string | ObjectInfo): Promise<ObjectHandle> {
    const info = typeof target === 'string' ? await this.stat(target) : target
    const url = info.url
    this.counts.opens++
    const double = this
    const check = (): StoredObject => {
      if (double.failReads?.match.test(url)) throw new CodedError(double.failReads.code, `injected failure reading ${url}`)
      const now = double.objects.get(url)
      if (!now) throw new CodedError('ERR_SLUICE_NOT_FOUND', `object not found: ${url}`)
      if (now.version !== info.version) throw new CodedError('ERR_SLUICE_OBJECT_CHANGED', `object changed: ${url}`)
      return now
    }
    const handle: ObjectHandle = {
      url,
      size: info.size,
      createReadStream() {
        throw new Error('not used by the tests of this double')
      },
      version: info.version,
      info,
      async read(position, length) {
        double.counts.reads++
        return check().bytes.slice(position, Math.min(info.size, position + length))
      },
      async readInto(target, offset, position, length) {
        double.counts.reads++
        // Yield once so reads really overlap, as they do over a network.
        await new Promise((r) => setImmediate(r))
        const part = check().bytes.subarray(position, Math.min(info.size, position + length))
        target.set(part, offset)
        return part.length
      },
      // Like BlockReader's: the range in pieces, the first yielded before the rest "arrives".
      async *chunks(options = {}) {
        double.counts.reads++
        const end = Math.min(info.size, options.end ?? info.size)
        const start = options.start ?? 0
        const middle = start + Math.ceil((end - start) / 2)
        yield check().bytes.subarray(start, middle)
        await new Promise((r) => setImmediate(r))
        if (end > middle) yield check().bytes.subarray(middle, end)
      },
      prefetch(position: number, length: number) {
        return position + length
      },
      async close() {
        double.counts.closes++
      },
    }
    return handle
  }
}
