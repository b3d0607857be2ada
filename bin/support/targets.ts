/**
 * Resolving what a user typed (a prefix, a bucket, a directory or one object) into objects,
 * the same way for `ls`, `cache evict` and friends: a URL ending in `/` is a prefix; otherwise
 * it is a prefix if anything lies below `url/`, else one object.
 */
import { NotFoundError, canonicalUrl, schemeOf, type ObjectInfo } from '../../lib/index.js'

interface Lister {
  stat(url: string): Promise<ObjectInfo>
  list(prefix: string): Promise<ObjectInfo[]>
}

/** `prefix` is set when the URL named a prefix (ends with `/`), undefined for one object. */
export async function statOrList(reader: Lister, url: string): Promise<{ prefix: string | undefined; objects: ObjectInfo[] }> {
  schemeOf(url) // rejects a malformed URL with the text the user typed
  const canonical = canonicalUrl(url)
  if (canonical.endsWith('/')) return { prefix: canonical, objects: await reader.list(canonical) }
  // s3://bucket (no key) is the bucket's root.
  if (/^s3:\/\/[^/]+$/i.test(canonical)) return { prefix: canonical + '/', objects: await reader.list(canonical + '/') }
  const below = await reader.list(canonical + '/')
  if (below.length > 0) return { prefix: canonical + '/', objects: below }
  return { prefix: undefined, objects: [await reader.stat(canonical)] }
}

/** "Nothing there" for a prefix, with the same code as a missing object (exit 3). */
export class NotFoundLike extends NotFoundError {
  constructor(url: string) {
    super(url)
    this.message = `nothing found under ${url}`
  }
}
