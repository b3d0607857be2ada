/**
 * Every error sluice raises on purpose, in one place, each with a stable `code`.
 *
 * Users match on `code` (`ERR_SLUICE_…`), never on message text or class identity across
 * package copies. Each error names what and where (URL, byte offset, option path) and keeps
 * the underlying failure as `cause`. Option mistakes are plain `TypeError` / `RangeError`
 * (see options.ts) because they are programming errors, not runtime conditions.
 *
 * Credentials never appear here: every message, `url` and cause is redacted when the error is
 * built (userinfo and presigned-signature parameters; see docs/security.md).
 */

export type SluiceErrorCode =
  | 'ERR_SLUICE_INVALID_URL'
  | 'ERR_SLUICE_UNSUPPORTED_SCHEME'
  | 'ERR_SLUICE_UNSUPPORTED'
  | 'ERR_SLUICE_NOT_FOUND'
  | 'ERR_SLUICE_BUCKET_NOT_FOUND'
  | 'ERR_SLUICE_ACCESS_DENIED'
  | 'ERR_SLUICE_OBJECT_CHANGED'
  | 'ERR_SLUICE_UNREACHABLE'
  | 'ERR_SLUICE_TIMEOUT'
  | 'ERR_SLUICE_SOURCE'
  | 'ERR_SLUICE_SHORT_READ'
  | 'ERR_SLUICE_ABORTED'
  | 'ERR_SLUICE_CLOSED'
  | 'ERR_SLUICE_CACHE'
  | 'ERR_SLUICE_TFRECORD_CORRUPT'
  | 'ERR_SLUICE_EXAMPLE_DECODE'
  | 'ERR_SLUICE_MOUNT'
  | 'ERR_SLUICE_CLUSTER'

export interface SluiceErrorOptions {
  cause?: unknown
  /** The object the failure concerns, when there is one. */
  url?: string
}

/** Query parameters that carry credentials in presigned URLs (AWS, GCS, Azure SAS). */
const SECRET_PARAMS = /^(x-amz-(credential|signature|security-token)|x-goog-(credential|signature)|signature|sig|token|access_token)$/i
const SECRET_PARAM_IN_TEXT = /([?&](?:x-amz-(?:credential|signature|security-token)|x-goog-(?:credential|signature)|signature|sig|token|access_token)=)[^&#\s"'<>]*/gi
/** `scheme://userinfo@`: the userinfo runs to the last `@` before the path, query or fragment. */
const USERINFO_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi

/**
 * Any text with every URL in it made safe to print: userinfo dropped, credential-bearing query
 * parameters masked. For text sluice did not write itself (a cause's message or stack), where
 * URLs appear in whatever form the library that failed chose.
 */
export function redactText(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text
  return text.replace(USERINFO_IN_TEXT, '$1').replace(SECRET_PARAM_IN_TEXT, '$1REDACTED')
}

/** `scheme://userinfo@` at the start of a string known to be one URL, whatever the userinfo holds. */
const LEADING_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i

/** A URL safe to print: no userinfo, credential-bearing query parameters masked. */
export function redactUrl(url: string): string {
  if (!url.includes('@') && !url.includes('?')) return url
  if (/^https?:\/\//i.test(url)) {
    try {
      const u = new URL(url)
      u.username = ''
      u.password = ''
      for (const key of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(key)) u.searchParams.set(key, 'REDACTED')
      return u.href
    } catch {
      // not parseable: the textual rules below still apply
    }
  }
  return redactText(url.replace(LEADING_USERINFO, '$1'))
}

/**
 * The redaction of one error's texts: first the userinfo of its own URL wherever it was copied
 * (as given, JSON-quoted, or in a bucket name parsed out of `s3://user:password@bucket/key`),
 * which catches a password no pattern can delimit (one with a space or a quote); then the
 * patterns of redactText.
 */
function redactorFor(url: string | undefined): (text: string) => string {
  const userinfo = url === undefined ? undefined : LEADING_USERINFO.exec(url)?.[2]
  if (!userinfo) return redactText
  const copies = [`${userinfo}@`, `${JSON.stringify(userinfo).slice(1, -1)}@`]
  return (text) => redactText(copies.reduce((t, copy) => t.split(copy).join(''), text))
}

/**
 * The cause chain as it may be kept: a cause (or a cause of a cause) whose message, stack or
 * string properties would print a secret is replaced by a copy with the same name, code,
 * message and stack, redacted. Anything else is kept as it is, so a cause is the very object
 * that failed whenever it is safe to print. SluiceErrors were made safe when built.
 */
function safeCause(cause: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof cause === 'string') return redact(cause)
  if (!(cause instanceof Error) || cause instanceof SluiceError || depth > 16) return cause
  const inner = (cause as { cause?: unknown }).cause
  const safeInner = inner === undefined ? undefined : safeCause(inner, redact, depth + 1)
  const own = cause as unknown as Record<string, unknown>
  // Data properties only: a getter could throw, or compute something new each time.
  const texts = [cause.message, cause.stack, ...Object.values(Object.getOwnPropertyDescriptors(cause)).map((d) => d.value)]
  if (safeInner === inner && !texts.some((v) => typeof v === 'string' && redact(v) !== v)) return cause
  const copy = new Error(redact(cause.message), safeInner === undefined ? undefined : { cause: safeInner })
  copy.name = cause.name
  copy.stack = cause.stack === undefined ? undefined : redact(cause.stack)
  for (const key of ['code', 'errno', 'syscall']) {
    const v = own[key]
    if (typeof v === 'string' || typeof v === 'number') Object.assign(copy, { [key]: typeof v === 'string' ? redact(v) : v })
  }
  return copy
}

export class SluiceError extends Error {
  readonly code: SluiceErrorCode
  /** The object concerned, with any credentials in the URL redacted. */
  readonly url: string | undefined

  constructor(code: SluiceErrorCode, message: string, options: SluiceErrorOptions = {}) {
    // Redacted here once, whoever built the message: every message names its URL, and some
    // quote text from the failure underneath (a fetch error prints the URL it refused).
    const safe = options.url === undefined ? undefined : redactUrl(options.url)
    const redact = redactorFor(options.url)
    super(redact(message), options.cause === undefined ? undefined : { cause: safeCause(options.cause, redact) })
    this.name = new.target.name
    this.code = code
    this.url = safe
  }
}

/** The URL cannot be parsed or lacks a bucket/host/path. */
export class InvalidUrlError extends SluiceError {
  constructor(url: string, reason: string) {
    super('ERR_SLUICE_INVALID_URL', `invalid object URL ${JSON.stringify(url)}: ${reason}`, { url })
  }
}

/** No source is registered for the URL's scheme. */
export class UnsupportedSchemeError extends SluiceError {
  readonly supported: readonly string[]
  constructor(url: string, scheme: string, supported: readonly string[]) {
    super(
      'ERR_SLUICE_UNSUPPORTED_SCHEME',
      `unsupported URL scheme "${scheme}" in ${url}; supported: ${supported.join(', ')}`,
      { url },
    )
    this.supported = supported
  }
}

/** The source cannot do this (for example listing over plain HTTP). */
export class UnsupportedOperationError extends SluiceError {
  constructor(operation: string, url: string) {
    super('ERR_SLUICE_UNSUPPORTED', `${operation} is not supported for ${url}`, { url })
  }
}

export class NotFoundError extends SluiceError {
  constructor(url: string, cause?: unknown) {
    super('ERR_SLUICE_NOT_FOUND', `object not found: ${url}`, { url, cause })
  }
}

export class BucketNotFoundError extends SluiceError {
  readonly bucket: string
  constructor(url: string, bucket: string, cause?: unknown) {
    super('ERR_SLUICE_BUCKET_NOT_FOUND', `bucket "${bucket}" does not exist (reading ${url})`, {
      url,
      cause,
    })
    this.bucket = bucket
  }
}

/** Bad or missing credentials, or a policy that forbids the request. */
export class AccessDeniedError extends SluiceError {
  constructor(url: string, detail: string, cause?: unknown) {
    super('ERR_SLUICE_ACCESS_DENIED', `access denied to ${url}: ${detail}`, { url, cause })
  }
}

/** The object no longer has the version a handle was opened on. */
export class ObjectChangedError extends SluiceError {
  readonly expectedVersion: string
  readonly actualVersion: string | undefined
  constructor(url: string, expectedVersion: string, actualVersion?: string, cause?: unknown) {
    super(
      'ERR_SLUICE_OBJECT_CHANGED',
      `object changed underneath an open handle: ${url} (opened version ${expectedVersion}` +
        (actualVersion === undefined ? ')' : `, now ${actualVersion})`) +
        '; open it again to read the new bytes',
      { url, cause },
    )
    this.expectedVersion = expectedVersion
    this.actualVersion = actualVersion
  }
}

/** The store did not answer at all (connection refused, DNS failure) after retries. */
export class SourceUnreachableError extends SluiceError {
  constructor(url: string, attempts: number, cause?: unknown) {
    super('ERR_SLUICE_UNREACHABLE', `object store unreachable for ${url} after ${attempts} attempt(s)`, {
      url,
      cause,
    })
  }
}

export class TimeoutError extends SluiceError {
  constructor(url: string, timeoutMs: number, cause?: unknown) {
    super('ERR_SLUICE_TIMEOUT', `request for ${url} timed out after ${timeoutMs} ms`, { url, cause })
  }
}

/** Any other failure of the store, after the retry budget ran out. */
export class SourceError extends SluiceError {
  readonly status: number | undefined
  readonly attempts: number
  /** What failed, redacted like the message, without the URL and attempts it wraps it in (a retry re-wraps this). */
  readonly detail: string
  constructor(url: string, detail: string, options: { status?: number; attempts?: number; cause?: unknown } = {}) {
    const attempts = options.attempts ?? 1
    super(
      'ERR_SLUICE_SOURCE',
      `reading ${url} failed: ${detail}` + (attempts > 1 ? ` (after ${attempts} attempts)` : ''),
      { url, cause: options.cause },
    )
    this.status = options.status
    this.attempts = attempts
    this.detail = redactorFor(url)(detail)
  }
}

/** A response carried fewer bytes than asked for; retried by resuming the remaining range. */
export class ShortReadError extends SluiceError {
  readonly received: number
  readonly expected: number
  /** The bytes that did arrive (single-buffer reads), so a retry asks only for the rest. */
  readonly partial: Uint8Array | undefined
  /** Whole blocks that did arrive (block reads), so a retry starts at the first missing block. */
  readonly completeBlocks: Uint8Array[] | undefined
  constructor(url: string, start: number, expected: number, received: number, partial?: Uint8Array, completeBlocks?: Uint8Array[], cause?: unknown) {
    super(
      'ERR_SLUICE_SHORT_READ',
      `short read from ${url} at byte ${start}: expected ${expected} bytes, got ${received}`,
      { url, cause },
    )
    this.expected = expected
    this.received = received
    this.partial = partial
    this.completeBlocks = completeBlocks
  }
}

export class AbortError extends SluiceError {
  constructor(url: string | undefined, cause?: unknown) {
    super('ERR_SLUICE_ABORTED', `operation aborted${url === undefined ? '' : ` (${url})`}`, { url, cause })
  }
}

export class ClosedError extends SluiceError {
  constructor(what: string) {
    super('ERR_SLUICE_CLOSED', `${what} is closed`)
  }
}

/** A cache tier failed; the read path bypasses the tier, so users see this only in stats. */
export class CacheError extends SluiceError {
  constructor(tier: string, detail: string, cause?: unknown) {
    super('ERR_SLUICE_CACHE', `cache tier ${tier}: ${detail}`, { cause })
  }
}

/**
 * The cluster tier cannot use its Redis Cluster: connecting, authentication, a server that is
 * not a cluster node, or a command that failed or timed out. `node` is `host:port` when one
 * node is to blame. The message and cause carry no credentials: the tier builds the cause
 * from the client's error message alone, with any password cut out.
 */
/**
 * Why the cluster tier failed: `auth` (wrong user or password) and `not-cluster` (a node is
 * not a Redis Cluster node) are misconfigurations a reader refuses to start with;
 * `unreachable` (no node answered in time) and `command` (one call failed or timed out) are
 * outages the reader rides out without the tier.
 */
export type ClusterFailure = 'auth' | 'not-cluster' | 'unreachable' | 'command'

export class ClusterError extends SluiceError {
  readonly node: string | undefined
  readonly reason: ClusterFailure
  constructor(detail: string, options: { node?: string; cause?: unknown; reason?: ClusterFailure } = {}) {
    super('ERR_SLUICE_CLUSTER', `cluster tier${options.node === undefined ? '' : ` (${options.node})`}: ${detail}`, { cause: options.cause })
    this.node = options.node
    this.reason = options.reason ?? 'command'
  }
}

export type TFRecordCheck = 'length-crc' | 'data-crc' | 'truncated' | 'decompression' | 'length-limit'

/** A TFRecord framing check failed; names the object, the record's byte offset and the check. */
export class TFRecordCorruptionError extends SluiceError {
  readonly offset: number
  readonly check: TFRecordCheck
  constructor(url: string, offset: number, check: TFRecordCheck, detail?: string, cause?: unknown) {
    super(
      'ERR_SLUICE_TFRECORD_CORRUPT',
      `corrupt TFRecord in ${url} at byte ${offset}: ${check} check failed` + (detail ? ` (${detail})` : ''),
      { url, cause },
    )
    this.offset = offset
    this.check = check
  }
}

/** A record is not a valid tf.train.Example / SequenceExample. */
export class ExampleDecodeError extends SluiceError {
  constructor(detail: string, options: SluiceErrorOptions = {}) {
    super('ERR_SLUICE_EXAMPLE_DECODE', `cannot decode tf.train.Example: ${detail}`, options)
  }
}

export function isSluiceError(err: unknown): err is SluiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string' &&
    (err as unknown as { code: string }).code.startsWith('ERR_SLUICE_')
}
