/**
 * How the S3 client is configured: the region (option, environment, AWS profile, else
 * us-east-1), path-style addressing for endpoints given by the environment, the socket pool
 * following the request parallelism, and validation of every `s3.*` option (and of the retry
 * delays) with messages that name the option and never show a secret.
 *
 * The SDK reads the shared config files through `AWS_CONFIG_FILE` and
 * `AWS_SHARED_CREDENTIALS_FILE`; every test points them at temp files of its own (the SDK
 * caches files by path) and restores the environment afterwards. Instance metadata is
 * disabled so nothing here leaves loopback.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { S3Client } from '@aws-sdk/client-s3'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockReader, S3Source, makeS3Client, type BlockReaderOptions } from '../lib/index.js'
import { resolveOptions } from '../lib/options.js'
import { startTestS3, type TestS3 } from './support/s3.js'

const SECRET = 'SLUICEs3CONFIGsecretLEAKCHECK'
const ENV_KEYS = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_EC2_METADATA_DISABLED',
] as const

let s3: TestS3
let dir: string
let files = 0

/** A fresh temp file with `text` (a new path each time: the SDK caches files by path). */
async function tempFile(text: string): Promise<string> {
  const path = join(dir, `aws-${files++}`)
  await writeFile(path, text)
  return path
}

/**
 * Runs `fn` with only the given AWS variables set (config files empty unless given), then
 * restores the environment as it was.
 */
async function withEnv(vars: Partial<Record<(typeof ENV_KEYS)[number], string>>, fn: () => Promise<void>): Promise<void> {
  const saved = new Map(ENV_KEYS.map((k) => [k, process.env[k]]))
  try {
    for (const k of ENV_KEYS) delete process.env[k]
    process.env.AWS_CONFIG_FILE = await tempFile('')
    process.env.AWS_SHARED_CREDENTIALS_FILE = await tempFile('')
    process.env.AWS_EC2_METADATA_DISABLED = 'true'
    Object.assign(process.env, vars)
    await fn()
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

async function regionOf(client: S3Client): Promise<string> {
  try {
    return await client.config.region()
  } finally {
    client.destroy()
  }
}

const t = suite('S3 configuration')
t.before(async () => {
  s3 = await startTestS3(['data'])
  await s3.put('data', 'obj', new Uint8Array(1234))
  dir = await mkdtemp(join(tmpdir(), 'sluice-s3cfg-'))
})
t.after(async () => {
  await s3.close()
  await rm(dir, { recursive: true, force: true })
})

t('region: the AWS profile names it when no option or variable does, as for a plain S3Client', async () => {
  const config = await tempFile('[default]\nregion = eu-west-3\n\n[profile other]\nregion = ap-northeast-1\n')
  await withEnv({ AWS_CONFIG_FILE: config }, async () => {
    assert.is(await regionOf(makeS3Client({ endpoint: s3.server.endpoint })), 'eu-west-3')
    assert.is(await regionOf(new S3Client({})), 'eu-west-3', 'the SDK agrees')
    process.env.AWS_PROFILE = 'other'
    assert.is(await regionOf(makeS3Client({ endpoint: s3.server.endpoint })), 'ap-northeast-1', 'AWS_PROFILE selects the profile')
  })
  const credentials = await tempFile('[default]\nregion = ca-central-1\n')
  await withEnv({ AWS_SHARED_CREDENTIALS_FILE: credentials }, async () => {
    assert.is(await regionOf(makeS3Client({})), 'ca-central-1', 'the shared credentials file counts too')
  })
})

t('region: the option wins over the environment, the environment over the profile', async () => {
  const config = await tempFile('[default]\nregion = eu-west-3\n')
  await withEnv({ AWS_CONFIG_FILE: config, AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'sa-east-1' }, async () => {
    assert.is(await regionOf(makeS3Client({ endpoint: s3.server.endpoint, region: 'ap-south-1' })), 'ap-south-1')
    assert.is(await regionOf(makeS3Client({ endpoint: s3.server.endpoint })), 'us-west-2')
    delete process.env.AWS_REGION
    assert.is(await regionOf(makeS3Client({ endpoint: s3.server.endpoint })), 'sa-east-1', 'AWS_DEFAULT_REGION, as before')
  })
})

t('region: us-east-1 when nothing is configured, and requests work with it', async () => {
  await withEnv({}, async () => {
    assert.is(await regionOf(makeS3Client({ endpoint: s3.server.endpoint })), 'us-east-1')
    const { region: _, ...noRegion } = s3.server.s3
    const source = new S3Source(noRegion)
    try {
      assert.is((await source.stat('s3://data/obj')).size, 1234)
    } finally {
      source.client.destroy()
    }
  })
})

t('path style: AWS_ENDPOINT_URL_S3 turns it on like AWS_ENDPOINT_URL, and the store is reached through it', async () => {
  const { endpoint, forcePathStyle: _, ...rest } = s3.server.s3
  await withEnv({ AWS_ENDPOINT_URL_S3: endpoint! }, async () => {
    const client = makeS3Client(rest)
    assert.is(client.config.forcePathStyle, true, 'AWS_ENDPOINT_URL_S3')
    client.destroy()
    const source = new S3Source(rest)
    try {
      assert.is((await source.stat('s3://data/obj')).size, 1234)
    } finally {
      source.client.destroy()
    }
    const explicit = makeS3Client({ ...rest, forcePathStyle: false })
    assert.is(explicit.config.forcePathStyle, false, 'the option wins')
    explicit.destroy()
    process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true'
    const ignored = makeS3Client(rest)
    assert.is(ignored.config.forcePathStyle, false, 'not when the SDK is told to ignore configured endpoints')
    ignored.destroy()
  })
  await withEnv({ AWS_ENDPOINT_URL: endpoint! }, async () => {
    const client = makeS3Client(rest)
    assert.is(client.config.forcePathStyle, true, 'AWS_ENDPOINT_URL')
    client.destroy()
  })
  await withEnv({}, async () => {
    const client = makeS3Client(rest)
    assert.is(client.config.forcePathStyle, false, 'AWS itself: virtual-hosted')
    client.destroy()
  })
})

t('s3.maxSockets follows prefetch.maxConcurrentRequests unless it is set', () => {
  assert.is(resolveOptions({}).s3.maxSockets, 64)
  assert.is(resolveOptions({ prefetch: { maxConcurrentRequests: 200 } }).s3.maxSockets, 200)
  assert.is(resolveOptions({ prefetch: { maxConcurrentRequests: 200 }, s3: { maxSockets: 32 } }).s3.maxSockets, 32)
  const mine = { region: 'eu-west-3' }
  const resolved = resolveOptions({ prefetch: { maxConcurrentRequests: 1024 }, s3: mine })
  assert.equal(resolved.s3, { region: 'eu-west-3', maxSockets: 1024 })
  assert.equal(mine, { region: 'eu-west-3' }, "the caller's object is not changed")
})

t('s3 options and retry delays are validated with messages that name the option and hide secrets', async () => {
  const key = { accessKeyId: 'AKIASLUICE', secretAccessKey: SECRET }
  const cases: [unknown, RegExp][] = [
    [{ s3: { endpoint: 42 } }, /^BlockReader option s3\.endpoint must be an http\(s\) URL/],
    [{ s3: { endpoint: 'not a url' } }, /s3\.endpoint must be an http\(s\) URL/],
    [{ s3: { endpoint: `ftp://user:${SECRET}@store.example` } }, /s3\.endpoint must be an http\(s\) URL.*"ftp:"/],
    [{ s3: { region: '' } }, /s3\.region must be a non-empty string/],
    [{ s3: { region: 7 } }, /s3\.region must be a non-empty string/],
    [{ s3: { forcePathStyle: 'yes' } }, /s3\.forcePathStyle must be true or false/],
    [{ s3: { credentials: 'AKIASLUICE:' + SECRET } }, /s3\.credentials must be an object/],
    [{ s3: { credentials: { accessKeyId: 'AKIASLUICE' } } }, /s3\.credentials\.secretAccessKey must be a string, got undefined/],
    [{ s3: { credentials: { accessKeyId: 1, secretAccessKey: SECRET } } }, /s3\.credentials\.accessKeyId must be a string/],
    [{ s3: { credentials: { ...key, secretAccessKey: [SECRET] } } }, /s3\.credentials\.secretAccessKey must be a string, got array/],
    [{ s3: { credentials: { ...key, sessionToken: { token: SECRET } } } }, /s3\.credentials\.sessionToken must be a string, got object/],
    [{ s3: { maxSockets: 0 } }, /s3\.maxSockets must be in \[1, 4096\]/],
    [{ s3: { maxSockets: 4097 } }, /s3\.maxSockets must be in \[1, 4096\]/],
    [{ s3: { maxSockets: 8.5 } }, /s3\.maxSockets must be an integer/],
    [{ s3: { listPageSize: 0 } }, /s3\.listPageSize must be in \[1, 1000\]/],
    [{ s3: { listPageSize: 1001 } }, /s3\.listPageSize must be in \[1, 1000\]/],
    [{ s3: { listPageSize: '100' } }, /s3\.listPageSize must be an integer/],
    [{ retry: { baseDelayMs: 500, maxDelayMs: 100 } }, /retry\.baseDelayMs \(500\) must not exceed retry\.maxDelayMs \(100\)/],
    [{ retry: { baseDelayMs: 5000 } }, /retry\.baseDelayMs \(5000\) must not exceed retry\.maxDelayMs \(2000\)/],
  ]
  for (const [options, message] of cases) {
    assert.throws(
      () => new BlockReader(options as BlockReaderOptions),
      (err: Error) => {
        assert.ok(err instanceof TypeError || err instanceof RangeError, `${err.name}: ${err.message}`)
        assert.match(err.message, message)
        assert.not.ok(err.message.includes(SECRET), `the message shows the secret: ${err.message}`)
        return true
      },
      JSON.stringify(options),
    )
  }
  // Good values pass, and a reader built from them reaches the store.
  assert.is(resolveOptions({ s3: { credentials: { ...key, sessionToken: 'token' } } }).s3.credentials?.sessionToken, 'token')
  const good = new BlockReader({
    s3: { ...s3.server.s3, endpoint: `${s3.server.endpoint}/`, maxSockets: 4096, listPageSize: 1 },
    retry: { baseDelayMs: 100, maxDelayMs: 100 },
  })
  try {
    assert.is((await good.stat('s3://data/obj')).size, 1234)
  } finally {
    await good.close()
  }
})

t.run()
