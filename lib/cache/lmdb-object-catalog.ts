/**
 * The disk tier's object catalogue: the `objects`, `urls` and `latest` databases
 * (lmdb-layout.ts), which say which objects the tier holds blocks of, which ids a URL has
 * here (eviction by URL is a range, not a scan), and the version of each URL most recently
 * cached (for reading through an outage of the store). Reads go through LmdbObjectCatalog,
 * the tier's ObjectCatalog; the writes run inside a fill's or a deletion's transaction
 * (lmdb-fill.ts, on either thread) and keep the catalogue bounded by the blocks: an object's
 * records are written with its first stored block and removed with its last, so metadata
 * never outlives the data.
 */
import { OBJECT_ID_BYTES } from './block-key.js'
import type { ObjectCatalog } from './block-store.js'
import { indexedPrefix, indexedUrl, urlKey, urlPrefix, type CacheDbs, type CachedObjectRecord } from './lmdb-layout.js'
import type { ObjectInfo } from '../types.js'

type CatalogDbs = Pick<CacheDbs, 'objects' | 'urls' | 'latest'>

export class LmdbObjectCatalog implements ObjectCatalog {
  constructor(private readonly dbs: CatalogDbs) {}

  /** The version of a URL most recently cached, if any of its blocks is here. */
  lastKnownVersion(url: string): ObjectInfo | undefined {
    return this.dbs.latest.get(indexedUrl(url))
  }

  /** Last known versions of every URL under a prefix, sorted by URL. */
  lastKnownUnder(prefix: string): ObjectInfo[] {
    const out: ObjectInfo[] = []
    const start = indexedPrefix(prefix)
    for (const { key, value } of this.dbs.latest.getRange({ start })) {
      if (!key.startsWith(start)) break
      if (value.url.startsWith(prefix)) out.push(value)
    }
    // Long URLs are keyed by a hash after their start, so key order is not URL order there.
    return out.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
  }

  /** Object ids with blocks here for a URL, any version and block size. */
  objectsForUrl(url: string): Uint8Array[] {
    return idsOfUrl(this.dbs, url)
  }

  objectCount(): number {
    return this.dbs.objects.getCount()
  }
}

/**
 * Records the object of a stored block, once, inside the caller's write transaction: its
 * record, its URL's index entry, and the URL's `latest` version (the version most recently
 * cached).
 */
export function recordObject(dbs: CatalogDbs, id: Buffer, object: CachedObjectRecord): void {
  if (dbs.objects.doesExist(id)) return
  const record: CachedObjectRecord = { url: object.url, version: object.version, size: object.size, blockSize: object.blockSize }
  if (object.mtimeMs !== undefined) record.mtimeMs = object.mtimeMs
  dbs.objects.putSync(Buffer.from(id), record)
  dbs.urls.putSync(urlKey(object.url, id), Buffer.alloc(0))
  // An older version cached late (a long-lived handle, another block size) does not take
  // `latest` back from a newer one, where the store gave both their times.
  const indexed = indexedUrl(object.url)
  const current = dbs.latest.get(indexed)
  if (current !== undefined && current.version !== record.version && isOlder(record, current)) return
  dbs.latest.putSync(indexed, latestOf(record))
}

function isOlder(a: { mtimeMs?: number }, b: { mtimeMs?: number }): boolean {
  return a.mtimeMs !== undefined && b.mtimeMs !== undefined && a.mtimeMs < b.mtimeMs
}

/** Ids of every object of one URL with records here (versions and block sizes; a short range). */
function idsOfUrl(dbs: Pick<CacheDbs, 'urls'>, url: string): Buffer[] {
  const prefix = urlPrefix(url)
  const out: Buffer[] = []
  for (const key of dbs.urls.getKeys({ start: prefix })) {
    if (!key.subarray(0, prefix.length).equals(prefix)) break
    // Only a key of exactly this length is this URL's: another URL may extend this one with
    // a zero byte of its own.
    if (key.length === prefix.length + OBJECT_ID_BYTES) out.push(Buffer.from(key.subarray(prefix.length)))
  }
  return out
}

function latestOf(record: CachedObjectRecord): { url: string; version: string; size: number; mtimeMs?: number } {
  return { url: record.url, version: record.version, size: record.size, ...(record.mtimeMs === undefined ? {} : { mtimeMs: record.mtimeMs }) }
}

/**
 * Drops the records of object `id` once none of its blocks is left, inside the caller's
 * write transaction. If it was the URL's `latest`, that stays while the same version is
 * cached under another block size, else falls back to the newest other cached version.
 */
export function forgetObjectIfEmpty(dbs: CatalogDbs & Pick<CacheDbs, 'sizes'>, id: Buffer): void {
  for (const key of dbs.sizes.getKeys({ start: id, limit: 1 })) if (key.subarray(0, OBJECT_ID_BYTES).equals(id)) return
  const record = dbs.objects.get(id)
  if (record === undefined) return
  dbs.objects.removeSync(id)
  dbs.urls.removeSync(urlKey(record.url, id))
  const indexed = indexedUrl(record.url)
  if (dbs.latest.get(indexed)?.version !== record.version) return
  let newest: CachedObjectRecord | undefined
  for (const other of idsOfUrl(dbs, record.url)) {
    const o = dbs.objects.get(other)
    if (o === undefined) continue
    if (o.version === record.version) return
    if (newest === undefined || isOlder(newest, o)) newest = o
  }
  if (newest === undefined) dbs.latest.removeSync(indexed)
  else dbs.latest.putSync(indexed, latestOf(newest))
}
