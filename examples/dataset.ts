/**
 * Puts a generated dataset into an S3-compatible store, for the demo and the benchmarks:
 * `count` objects of `size` bytes of incompressible data under `prefix`. Bytes come from an
 * AES-CTR keystream (native, fast, deterministic per seed).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { createCipheriv, createHash } from 'node:crypto'

export function generatedBytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()])
}

export async function putDataset(
  client: S3Client,
  bucket: string,
  prefix: string,
  count: number,
  size: number,
): Promise<string[]> {
  const urls: string[] = []
  for (let i = 0; i < count; i++) {
    const key = `${prefix}part-${String(i).padStart(5, '0')}.bin`
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: generatedBytes(size, key) }))
    urls.push(`s3://${bucket}/${key}`)
  }
  return urls
}
