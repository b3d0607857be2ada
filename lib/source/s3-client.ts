/**
 * Builds the AWS SDK v3 S3 client sluice uses, from sluice's `s3` options or, where an option
 * is absent, the SDK's own environment and credential chain (`AWS_ENDPOINT_URL`, `AWS_REGION`,
 * profiles, `AWS_ACCESS_KEY_ID`, ...).
 *
 * Two settings are deliberate: flexible checksums are computed and validated only when the
 * operation requires them (S3-compatible stores such as s3rver, older MinIO and Ceph do not
 * implement them, and streamed uploads would be stored with their chunk framing), and the
 * SDK's own retries are off because `RetryingSource` retries every source the same way.
 */
import { S3Client } from '@aws-sdk/client-s3'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'

export interface S3Credentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export interface S3Options {
  /** Endpoint URL of an S3-compatible store. Default: `AWS_ENDPOINT_URL(_S3)` or AWS. */
  endpoint?: string
  /** Region. Default: `AWS_REGION` / profile, else `us-east-1`. */
  region?: string
  /** Path-style addressing (`endpoint/bucket/key`), needed by most S3-compatible stores. Default: true when `endpoint` is set. */
  forcePathStyle?: boolean
  /** Static credentials. Default: the SDK's credential chain. */
  credentials?: S3Credentials
  /** Sockets kept alive per client. Default 64. */
  maxSockets?: number
  /** Keys per listing page (MaxKeys). Default 1000, the S3 maximum. */
  listPageSize?: number
}

export function makeS3Client(options: S3Options = {}): S3Client {
  const maxSockets = options.maxSockets ?? 64
  const endpoint = options.endpoint
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1'
  return new S3Client({
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    forcePathStyle: options.forcePathStyle ?? (endpoint !== undefined || process.env.AWS_ENDPOINT_URL !== undefined),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    },
  })
}
