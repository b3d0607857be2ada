/**
 * The offline policy `'stale-ok'` as a Source decorator, like RetryingSource: metadata
 * (`stat`, `list`) that the store cannot answer, because it cannot be reached (refused,
 * timed out, 5xx after retries), is answered from the last versions the disk tier recorded,
 * so resident data stays readable through an outage. A store that answers, even with "not
 * found" or "access denied", is believed: only an outage falls back. Reads of bytes pass
 * through unchanged; blocks that are not resident still fail.
 */
import { SourceError, SourceUnreachableError, TimeoutError } from '../errors.js'
import type { ObjectCatalog } from '../cache/block-store.js'
import type { ObjectInfo } from '../types.js'
import type { RangeReadOptions, Source } from './source.js'

export class StaleOkSource implements Source {
  /** stat/list answered from the catalogue during an outage. */
  staleAnswers = 0

  constructor(
    readonly inner: Source,
    /** The catalogue to answer from, when the cache has one and it is usable now. */
    private readonly catalog: () => ObjectCatalog | undefined,
  ) {}

  get schemes(): readonly string[] {
    return this.inner.schemes
  }

  async stat(url: string, options?: RangeReadOptions): Promise<ObjectInfo> {
    try {
      return await this.inner.stat(url, options)
    } catch (err) {
      const stale = this.staleAnswer(err, (c) => c.lastKnownVersion(url))
      if (stale === undefined) throw err
      return stale
    }
  }

  async list(prefix: string, options?: RangeReadOptions): Promise<ObjectInfo[]> {
    try {
      return await this.inner.list(prefix, options)
    } catch (err) {
      const stale = this.staleAnswer(err, (c) => c.lastKnownUnder(prefix))
      if (stale === undefined || stale.length === 0) throw err
      return stale
    }
  }

  readRange(info: ObjectInfo, start: number, end: number, options?: RangeReadOptions): Promise<Uint8Array> {
    return this.inner.readRange(info, start, end, options)
  }

  private staleAnswer<T>(err: unknown, lookup: (catalog: ObjectCatalog) => T | undefined): T | undefined {
    if (!isStoreOutage(err)) return undefined
    const catalog = this.catalog()
    if (catalog === undefined) return undefined
    try {
      const answer = lookup(catalog)
      if (answer !== undefined) this.staleAnswers++
      return answer
    } catch {
      return undefined // an unreadable catalogue: the outage error stands
    }
  }
}

/** Errors that mean the store itself could not be reached or answered, not that the object is bad. */
export function isStoreOutage(err: unknown): boolean {
  if (err instanceof SourceUnreachableError || err instanceof TimeoutError) return true
  return err instanceof SourceError && (err.status === undefined || err.status >= 500)
}
