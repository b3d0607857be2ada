/**
 * `s3://bucket/key` objects through the AWS SDK v3: HeadObject for stat, ranged GetObject
 * pinned with `If-Match` for reads, ListObjectsV2 with continuation for listings.
 *
 * Stores differ in how faithfully they implement ranges and preconditions (s3rver 3.7 answers
 * `bytes=0-0` with the whole object and ignores `If-Match`), so every response is checked
 * here rather than trusted: the ETag must equal the pinned version and the body must be the
 * exact range asked for, or the read fails with a typed error. Empty ranges never reach the
 * network.
 */
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
import { readBodyBlocks } from './read-body.js'
import { checkResponseRange } from './response-range.js'
import {
  AccessDeniedError,
  BucketNotFoundError,
  NotFoundError,
  ObjectChangedError,
  SourceError,
  SourceUnreachableError,
  isSluiceError,
} from '../errors.js'
import type { ObjectInfo } from '../types.js'
import { parseS3Url, s3Url } from '../url.js'
import { makeS3Client, type S3Options } from './s3-client.js'
import { clampRange, type RangeReadOptions, type Source } from './source.js'

interface SdkError {
  name?: string
  code?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number; requestId?: string }
  cause?: { code?: string }
}

/** What is worth keeping of an SDK error: no request, no headers, no credentials. */
function summarizeSdkError(raw: unknown): Error & SdkError {
  const e = (raw ?? {}) as SdkError
  const out = new Error(typeof e.message === 'string' ? e.message : String(raw)) as Error & SdkError
  out.name = e.name ?? 'Error'
  const code = e.code ?? e.cause?.code
  if (code !== undefined) out.code = code
  if (e.Code !== undefined) out.Code = e.Code
  const status = e.$metadata?.httpStatusCode
  const requestId = e.$metadata?.requestId
  out.$metadata = { ...(status === undefined ? {} : { httpStatusCode: status }), ...(requestId === undefined ? {} : { requestId }) }
  return out
}

/**
 * Stops a response body that will not be read to its end. undici reports a body destroyed
 * before its end as an 'error' event (RequestAbortedError), which would crash the process
 * with no listener; the read that abandons the body has already decided what failed.
 */
function abandon(body: Readable | undefined): void {
  if (body === undefined || body.destroyed) return
  body.on('error', () => {})
  body.destroy()
}

export class S3Source implements Source {
  readonly schemes = ['s3'] as const
  readonly client: S3Client
  private readonly listPageSize: number | undefined

  constructor(options: S3Options = {}, client?: S3Client) {
    this.client = client ?? makeS3Client(options)
    this.listPageSize = options.listPageSize
  }

  async stat(url: string, options: RangeReadOptions = {}): Promise<ObjectInfo> {
    const { bucket, key } = parseS3Url(url)
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: options.signal,
      })
      // Without a length every read of the object would be empty: not an answer to trust.
      if (head.ContentLength === undefined) throw new SourceError(url, 'HEAD answered without Content-Length')
      return {
        url: s3Url(bucket, key),
        size: head.ContentLength,
        version: head.ETag ?? '',
        ...(head.LastModified ? { mtimeMs: head.LastModified.getTime() } : {}),
      }
    } catch (err) {
      throw await this.translate(err, url, bucket)
    }
  }

  async readRange(info: ObjectInfo, start: number, end: number, options: RangeReadOptions = {}): Promise<Uint8Array> {
    end = clampRange(info, start, end)
    if (end === start) return new Uint8Array(0)
    const [only] = await this.get(info, start, end, end - start, options)
    return only!
  }

  async readBlocks(info: ObjectInfo, start: number, end: number, blockSize: number, options: RangeReadOptions = {}): Promise<Uint8Array[]> {
    end = clampRange(info, start, end)
    if (end === start) return []
    return this.get(info, start, end, blockSize, options)
  }

  /** One ranged GET pinned to the version, its body written into `blockSize` buffers. */
  private async get(info: ObjectInfo, start: number, end: number, blockSize: number, options: RangeReadOptions): Promise<Uint8Array[]> {
    const { bucket, key } = parseS3Url(info.url)
    const length = end - start
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: `bytes=${start}-${end - 1}`,
          ...(info.version ? { IfMatch: info.version } : {}),
        }),
        { abortSignal: options.signal },
      )
      if (info.version && res.ETag !== undefined && res.ETag !== info.version) {
        abandon(res.Body as Readable | undefined)
        throw new ObjectChangedError(info.url, info.version, res.ETag)
      }
      const body = res.Body as Readable
      let skip: number
      try {
        skip = checkResponseRange(info, start, end, res.ContentRange, res.ContentLength)
      } catch (err) {
        abandon(body)
        throw err
      }
      return await readBodyBlocks(body, () => abandon(body), info.url, start, length, blockSize, skip, options.signal, options.onProgress)
    } catch (err) {
      throw await this.translate(err, info.url, bucket, info.version)
    }
  }

  async list(prefix: string, options: RangeReadOptions = {}): Promise<ObjectInfo[]> {
    const { bucket, key } = parseS3Url(prefix)
    const out: ObjectInfo[] = []
    let token: string | undefined
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token, MaxKeys: this.listPageSize }),
          { abortSignal: options.signal },
        )
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined || o.Key.endsWith('/')) continue
          out.push({
            url: s3Url(bucket, o.Key),
            size: o.Size ?? 0,
            version: o.ETag ?? '',
            ...(o.LastModified ? { mtimeMs: o.LastModified.getTime() } : {}),
          })
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
    } catch (err) {
      throw await this.translate(err, prefix, bucket)
    }
    return out.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
  }

  async close(): Promise<void> {
    this.client.destroy()
  }

  /**
   * Maps SDK and socket failures onto sluice's error codes. The SDK's error object is never
   * kept as `cause`: it holds the signed request, session token included; a plain summary
   * (name, code, status, request id) is kept instead.
   */
  private async translate(raw: unknown, url: string, bucket: string, version?: string): Promise<unknown> {
    if (isSluiceError(raw)) return raw
    const e = raw as SdkError
    if (e?.name === 'AbortError') return raw
    const err = summarizeSdkError(raw)
    const status = e?.$metadata?.httpStatusCode
    const name = e?.name ?? 'Error'
    if (name === 'NoSuchBucket') return new BucketNotFoundError(url, bucket, err)
    if (name === 'NoSuchKey' || status === 404) {
      // HEAD answers a bare 404 for a missing bucket too; ask once which it was.
      if (name !== 'NoSuchKey' && !(await this.bucketExists(bucket))) return new BucketNotFoundError(url, bucket, err)
      return new NotFoundError(url, err)
    }
    if (name === 'PreconditionFailed' || status === 412) return new ObjectChangedError(url, version ?? '', undefined, err)
    if (status === 403 || name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
      return new AccessDeniedError(url, `${name}${status ? ` (HTTP ${status})` : ''}; check the credentials and the bucket policy`, err)
    }
    const code = err.code
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SourceUnreachableError(url, 1, err)
    return new SourceError(url, `${name}${status ? ` (HTTP ${status})` : ''}${code ? ` ${code}` : ''}`, {
      ...(status === undefined ? {} : { status }),
      cause: err,
    })
  }

  private async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }))
      return true
    } catch (error) {
      return (error as SdkError)?.$metadata?.httpStatusCode !== 404
    }
  }
}
