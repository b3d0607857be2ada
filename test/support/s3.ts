/**
 * A real S3-compatible server on loopback for one test file, and helpers to put objects.
 */
import { PutObjectCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { makeS3Client } from '../../lib/index.js'
import { startS3Server, type S3Server } from '../../lib/testing/index.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

export interface TestS3 {
  server: S3Server
  client: S3Client
  put(bucket: string, key: string, body: Uint8Array): Promise<void>
  remove(bucket: string, key: string): Promise<void>
  close(): Promise<void>
}

export async function startTestS3(buckets: string[] = ['data']): Promise<TestS3> {
  const server = await startS3Server({ buckets })
  const client = makeS3Client(server.s3)
  return {
    server,
    client,
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
    },
    async remove(bucket, key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
    },
    async close() {
      client.destroy()
      await server.close()
    },
  }
}
