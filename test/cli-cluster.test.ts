/**
 * The cluster tier from the command line, as an operator runs it: `sluice preload --cluster`
 * with no cache directory warms the cluster for every node, a reader then fetches nothing
 * from the store; the password comes from SLUICE_CLUSTER_PASSWORD and a wrong one is one
 * error line with its code (exit 1) that does not echo it; commands that only look at this
 * node's cache (ls) never connect to the cluster.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BlockReader } from '../lib/index.js'
import { redisClusterMissing, startRedisCluster, type RedisCluster } from '../lib/testing/index.js'
import { announceSkip, testUnless } from './support/skip.js'
import { sluice, startDataset, type Dataset } from './support/fuse-dataset.js'

const missing = announceSkip('cli-cluster', 'the CLI cluster tests', redisClusterMissing())
const it = suite('sluice --cluster')
const test = testUnless(missing, it)
const PASSWORD = 'cluster-pass-5e1f'

let d: Dataset
let redis: RedisCluster

it.before(async () => {
  if (missing) return
  d = await startDataset()
  redis = await startRedisCluster({ masters: 3, password: PASSWORD })
})
it.after(async () => {
  if (missing) return
  await redis?.stop()
  await d?.close()
})

const withCluster = (extra: NodeJS.ProcessEnv = {}) => ({ ...d, env: { ...d.env, SLUICE_CLUSTER: redis.nodes.join(','), SLUICE_CLUSTER_PASSWORD: PASSWORD, ...extra } })

test('preload --cluster without a cache directory warms the cluster; a reader then makes no GET', async () => {
  const r = await sluice(withCluster(), ['preload', 's3://sluice/ds/train/', '--json'], 60_000)
  assert.is(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout) as { complete: boolean; residentBytes: number; requestedBytes: number }
  assert.ok(result.complete, 'everything asked for is resident in the cluster')
  assert.is(result.residentBytes, result.requestedBytes)

  const reader = new BlockReader({ s3: d.server.s3, memory: { maxBytes: 0 }, cluster: { nodes: redis.nodes, password: PASSWORD } })
  try {
    for (const [key, bytes] of Object.entries(d.objects).filter(([k]) => k.startsWith('ds/train/'))) {
      const h = await reader.open(`s3://sluice/${key}`)
      assert.ok(Buffer.from(await h.read(0, h.size)).equals(bytes), key)
      await h.close()
    }
    assert.is(reader.stats().source.gets, 0, 'every block came from the cluster')
  } finally {
    await reader.close()
  }
})

test('a wrong password is one error line with ERR_SLUICE_CLUSTER, exit 1, and does not echo the password', async () => {
  const wrong = 'not-the-pass-77aa'
  const r = await sluice(withCluster({ SLUICE_CLUSTER_PASSWORD: wrong }), ['cat', 's3://sluice/ds/eval/e.bin'])
  assert.is(r.code, 1)
  assert.is(r.stdout, '', 'nothing was read')
  assert.match(r.stderr, /ERR_SLUICE_CLUSTER/)
  assert.match(r.stderr, /authentication failed/)
  assert.not.ok(r.stderr.includes(wrong), 'the password is not echoed')
})

test('a malformed --cluster is a usage error (exit 2) naming the option', async () => {
  const r = await sluice(d, ['cat', 's3://sluice/ds/eval/e.bin', '--cluster', 'http://127.0.0.1:1'])
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /cluster\.nodes\[0\]/)
})

test('ls never connects to the cluster, even with SLUICE_CLUSTER set to a wrong password', async () => {
  const r = await sluice(withCluster({ SLUICE_CLUSTER_PASSWORD: 'wrong' }), ['ls', 's3://sluice/ds/eval/'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /e\.bin/)
})

it.run()
