/**
 * Chooses the Source for a URL by its scheme. Sources are created lazily (no S3 client is
 * built for a job that only reads files) and each is wrapped once in the retry decorator.
 */
import { UnsupportedSchemeError } from '../errors.js'
import { schemeOf } from '../url.js'
import { FileSource } from './file-source.js'
import { HttpSource } from './http-source.js'
import { RetryingSource, newSourceStats, type RetryOptions } from './retrying-source.js'
import type { S3Options } from './s3-client.js'
import { S3Source } from './s3-source.js'
import { refuseUrlCredentials, type Source } from './source.js'
import type { SourceStats } from '../types.js'

export class SourceRegistry {
  readonly stats: SourceStats = newSourceStats()
  private readonly factories = new Map<string, () => Source>()
  private readonly made = new Map<string, RetryingSource>()
  private readonly custom = new Set<string>()

  constructor(
    private readonly s3: S3Options = {},
    private readonly retry: RetryOptions = {},
    extra: readonly Source[] = [],
  ) {
    this.factories.set('s3', () => new S3Source(this.s3))
    this.factories.set('file', () => new FileSource())
    const http = () => new HttpSource()
    this.factories.set('http', http)
    this.factories.set('https', http)
    for (const s of extra) {
      for (const scheme of s.schemes) {
        this.factories.set(scheme, () => s)
        this.custom.add(scheme)
      }
    }
  }

  /** Whether the URL is served by a source given to this registry (not one built from options). */
  hasCustom(url: string): boolean {
    return this.custom.has(schemeOf(url))
  }

  get schemes(): string[] {
    return [...this.factories.keys()]
  }

  /**
   * The retrying source for a URL; throws UnsupportedSchemeError for unknown schemes, and
   * InvalidUrlError for credentials in the URL of a built-in scheme (a source given to the
   * registry owns its URLs' syntax).
   */
  sourceFor(url: string): RetryingSource {
    const scheme = schemeOf(url)
    if (!this.custom.has(scheme)) refuseUrlCredentials(url)
    let src = this.made.get(scheme)
    if (src) return src
    const factory = this.factories.get(scheme)
    if (!factory) throw new UnsupportedSchemeError(url, scheme, this.schemes)
    const inner = factory()
    // http and https share one HttpSource instance; so do schemes of one extra source.
    src = [...this.made.values()].find((s) => s.inner === inner) ?? new RetryingSource(inner, this.retry, this.stats)
    this.made.set(scheme, src)
    return src
  }

  async close(): Promise<void> {
    await Promise.all([...new Set(this.made.values())].map((s) => s.close()))
    this.made.clear()
  }
}
