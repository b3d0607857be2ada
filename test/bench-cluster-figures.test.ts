/**
 * The cluster benchmark's arithmetic (bench/support/cluster-figures.ts, the sizes in
 * cluster-phases.ts, the flags in cluster-config.ts): a node's epoch from its reader's stats,
 * the lake's bytes per dataset byte and the share not fetched, the three targets at
 * their thresholds, and the eviction policy it recommends (worst later epoch, never one the
 * tier was bypassed under). Nothing here starts a process or reads a clock.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ReaderStats, TierStats } from '../lib/index.js'
import { CLUSTER_FLAGS, parseClusterConfig } from '../bench/support/cluster-config.js'
import {
  checkClusterTargets,
  epochDelta,
  lakePerDatasetByte,
  medianMbps,
  notFetchedShare,
  policyScores,
  recommendedPolicy,
  renderClusterTable,
  renderFloors,
  type NodeEpoch,
  type PhaseResult,
} from '../bench/support/cluster-figures.js'
import { smallClusterMaxmemory, smallTiers } from '../bench/support/cluster-phases.js'
import { MiB } from '../lib/index.js'

const test = suite('bench-cluster-figures')
const DS = 300e6

function stats(sourceBytes: number, sourceGets: number, cluster?: Partial<TierStats>): ReaderStats {
  const tiers = [{ name: 'memory', hits: 0, misses: 0, hitBytes: 0 } as TierStats]
  if (cluster) tiers.push({ name: 'cluster', hits: 0, misses: 0, hitBytes: 0, errors: 0, droppedFills: 0, healthy: true, ...cluster } as TierStats)
  return { tiers, source: { bytes: sourceBytes, gets: sourceGets }, prefetch: {}, openHandles: 0 } as unknown as ReaderStats
}

function node(seconds: number, extra: Partial<NodeEpoch> = {}): NodeEpoch {
  const zero = epochDelta('node 1', { seconds, items: 10, firstItemMs: 5 }, 1, 0, stats(0, 0), stats(0, 0))
  return { ...zero, ...extra }
}

function phase(id: string, lakeBytes: number, seconds: number[], extra: Partial<PhaseResult> = {}): PhaseResult {
  return { id, label: id, datasetBytes: DS, nodes: seconds.map((s) => node(s)), wallSeconds: Math.max(...seconds), lakeBytes, lakeGets: 0, lakeInFlight: 0, ...extra }
}

test("a node's epoch is the difference of its reader's stats, cluster counts included", () => {
  const before = stats(100, 2, { hits: 1, misses: 4, hitBytes: 10, cluster: { crcFailures: 0, authFailures: 0, leasesWon: 3, leasesUnavailable: 0, leasesWaited: 1, leasesFilled: 1, leasesExpired: 0, leaseTimeouts: 0, directReads: 0, clientReads: 0 } })
  const after = stats(900, 7, {
    hits: 6,
    misses: 9,
    hitBytes: 510,
    errors: 2,
    droppedFills: 1,
    healthy: false,
    lastError: 'OOM',
    cluster: { crcFailures: 0, authFailures: 0, leasesWon: 8, leasesUnavailable: 0, leasesWaited: 4, leasesFilled: 3, leasesExpired: 1, leaseTimeouts: 0, directReads: 0, clientReads: 0 },
  })
  const e = epochDelta('node 2', { seconds: 2, items: 10, firstItemMs: 7 }, 1.5, 0.25, before, after)
  assert.equal(
    { ...e },
    {
      node: 'node 2',
      seconds: 2,
      records: 10,
      firstRecordMs: 7,
      cpuSeconds: 1.5,
      flushSeconds: 0.25,
      sourceBytes: 800,
      sourceGets: 5,
      clusterHits: 5,
      clusterHitBytes: 500,
      clusterMisses: 5,
      clusterErrors: 2,
      clusterDroppedFills: 1,
      leasesWon: 5,
      leasesWaited: 3,
      leasesFilled: 2,
      leasesExpired: 1,
      leaseTimeouts: 0,
      clusterHealthy: false,
      clusterLastError: 'OOM',
    },
  )
  const none = epochDelta('n', { seconds: 1, items: 1, firstItemMs: 1 }, 0, 0, stats(0, 0), stats(50, 1))
  assert.is(none.clusterHits, 0, 'a reader without a cluster tier has no cluster counts')
  assert.is(none.clusterHealthy, true)
})

test('lake bytes are per dataset byte, whoever fetched them: three full copies are 3.0, one shared copy 1.0', () => {
  assert.is(lakePerDatasetByte(phase('today', 3 * DS, [1, 1, 1])), 3)
  const shared = phase('shared', DS, [1, 1, 1])
  assert.is(lakePerDatasetByte(shared), 1)
  shared.nodes.forEach((n, i) => (n.leasesWon = [10, 62, 0][i]!))
  assert.match(renderClusterTable([shared]), /leases won 10\/62\/0,/, 'the table shows who fetched for the others')
  assert.is(notFetchedShare(phase('cyclic', 0.5 * DS, [1])), 0.5)
  assert.ok(notFetchedShare(phase('cyclic', 1.2 * DS, [1])) < 0, 'blocks fetched twice make it negative, not zero')
})

const verdictOf = (phases: PhaseResult[], match: RegExp) => checkClusterTargets(phases).find((v) => match.test(v.target))!

test('targets: <= 1.1 lake bytes per dataset byte, and the joining node at 3x cold and 0.5x LMDB-warm, each at its threshold', () => {
  // MB/s = 300 MB / seconds: cold 100, warm 600, the joining node 300 (3.0x cold, 0.5x warm).
  const base = [phase('cold', DS, [3]), phase('lmdb_warm', 0, [0.5]), phase('fourth', 0, [1])]
  assert.is(verdictOf([...base, phase('shared', 1.1 * DS, [1, 1, 1])], /lake per dataset byte/).met, true)
  assert.is(verdictOf([...base, phase('shared', 1.11 * DS, [1, 1, 1])], /lake per dataset byte/).met, false)
  assert.is(verdictOf(base, /vs the lake-cold/).met, true)
  assert.is(verdictOf(base, /vs the lake-cold/).value, '3.00x')
  assert.is(verdictOf(base, /LMDB-warm/).met, true)
  const slower = [phase('cold', DS, [3]), phase('lmdb_warm', 0, [0.5]), phase('fourth', 0, [1.01])]
  assert.is(verdictOf(slower, /vs the lake-cold/).met, false)
  assert.is(verdictOf(slower, /LMDB-warm/).met, false)
  const missing = verdictOf([phase('cold', DS, [3])], /vs the lake-cold/)
  assert.is(missing.met, undefined, 'a phase that did not run is not measured, neither met nor missed')
  assert.is(missing.value, 'not measured')
})

test('repeated single-node phases: targets take the median run, not the first or the best', () => {
  // Joining runs of 2, 1 and 10 s: 150, 300 and 30 MB/s; the median is 150.
  const joins = [2, 1, 10].map((s, i) => phase('fourth', 0, [s], { run: i + 1 }))
  assert.is(medianMbps(joins, 'fourth'), 150)
  assert.is(medianMbps([...joins, phase('fourth', 0, [1.5], { run: 4 })], 'fourth'), (150 + 200) / 2, 'an even count averages the middle two')
  assert.is(medianMbps(joins, 'cold'), undefined)
  const phases = [phase('cold', DS, [3], { run: 1 }), phase('cold', DS, [6], { run: 2 }), phase('cold', DS, [2], { run: 3 }), ...joins]
  assert.is(verdictOf(phases, /vs the lake-cold/).value, '1.50x', '150 MB/s over the median cold run (100 MB/s)')
})

test('floors: each as MB/s with the joining node a share of it; 3x cold is called above them only when it is above both', () => {
  const phases = [phase('cold', DS, [3]), phase('fourth', 0, [2])] // cold 100 MB/s, joining 150
  const floor = (seconds: number) => ({ values: 72, bytes: DS, seconds, cpuSeconds: 1 })
  const above = renderFloors({ keep: floor(1.5), write: floor(2) }, phases).join('\n')
  assert.match(above, /kept \(a memory tier fill\): 200 MB\/s, CPU 1\.00 s for 300 MB; the joining node reads at 0\.75x this/)
  assert.match(above, /written to a file \(a disk tier fill\): 150 MB\/s/)
  assert.match(above, /3x the lake-cold epoch is 300 MB\/s: ABOVE the faster floor \(200 MB\/s\): a node that fills either local tier/)
  const below = renderFloors({ keep: floor(1.5), write: floor(0.5) }, phases).join('\n')
  assert.match(below, /300 MB\/s: below the faster floor \(600 MB\/s\)$/, 'the faster floor is the ceiling')
  assert.not.match(renderFloors({ keep: floor(1.5) }, phases).join('\n'), /3x the lake-cold/, 'one floor alone says nothing of the ceiling')
  assert.equal(renderFloors({}, phases), [], 'no floor measured, no lines')
})

test('policies: judged by their worst epoch after the first; one the tier failed under is not recommended', () => {
  const cyclic = (policy: string, epoch: number, lake: number, errors = 0) => {
    const p = phase('cyclic', lake * DS, [1], { policy, epoch })
    p.nodes[0]!.clusterErrors = errors
    p.nodes[0]!.clusterHealthy = errors < 3
    p.nodes[0]!.clusterLastError = errors > 0 ? 'acquiring fill leases failed: OOM' : undefined
    return p
  }
  const phases = [
    cyclic('allkeys-lru', 1, 1.0),
    cyclic('allkeys-lru', 2, 1.0),
    cyclic('allkeys-random', 1, 1.0),
    cyclic('allkeys-random', 2, 0.5),
    cyclic('allkeys-random', 3, 0.7),
    cyclic('noeviction', 1, 1.0),
    cyclic('noeviction', 2, 0.4, 3),
  ]
  const scores = policyScores(phases)
  assert.equal(scores.map((s) => s.policy), ['allkeys-lru', 'allkeys-random', 'noeviction'])
  assert.ok(Math.abs(scores[1]!.worst - 0.3) < 1e-9, 'the worst later epoch, not the best or the first')
  assert.is(scores[2]!.errors, 3)
  assert.is(recommendedPolicy(phases), 'allkeys-random', 'noeviction scored higher, but with the tier failing')
  assert.is(recommendedPolicy(phases.filter((p) => p.policy === 'noeviction')), 'noeviction', 'unless the tier failed under every policy')
  assert.is(recommendedPolicy([]), undefined)
  const v = checkClusterTargets(phases).filter((x) => /2x the cluster's memory/.test(x.target))
  assert.equal(v.map((x) => x.met), [false, false, true])
  const table = renderClusterTable(phases)
  assert.match(table, /cluster errors 3 \(last: acquiring fill leases failed: OOM\)/)
  assert.match(table, /tier BYPASSED at the end on node 1/)
})

test('phase d sizes: the masters hold memoryShare of the dataset together; read-ahead fits in the memory tier', () => {
  assert.is(smallClusterMaxmemory(300e6, 0.5, 3), 50e6)
  const t = smallTiers(288e6)
  assert.ok(t.readAheadBytes <= t.memoryBytes / 2)
  assert.is(t.diskBytes, 17 * MiB)
  assert.is(smallTiers(10e6).diskBytes, 16 * MiB, 'at least 16 MiB')
})

test('config: a flag beats BENCH_CLUSTER_*, which beats the default; bad values name the flag', () => {
  const d = parseClusterConfig([], {})!
  assert.is(d.shards, CLUSTER_FLAGS.shards!.default)
  assert.equal(d.phases, ['alone', 'shared', 'cyclic'])
  assert.ok(d.policies.includes('allkeys-lru') && d.policies.includes('allkeys-lfu') && d.policies.includes('allkeys-random'))
  assert.is(parseClusterConfig([], { BENCH_CLUSTER_SHARDS: '9' })!.shards, 9)
  assert.is(parseClusterConfig(['--shards', '2'], { BENCH_CLUSTER_SHARDS: '9' })!.shards, 2)
  assert.equal(parseClusterConfig(['--policies', 'allkeys-lfu, noeviction'], {})!.policies, ['allkeys-lfu', 'noeviction'])
  const refused = (argv: string[], flag: RegExp) =>
    assert.throws(
      () => parseClusterConfig(argv, {}),
      (e: unknown) => e instanceof TypeError && flag.test(e.message),
    )
  refused(['--policies', 'allkeys-lru,lru'], /--policies.*"lru"/)
  refused(['--phases', 'alone,warm'], /--phases.*"warm"/)
  refused(['--nodes', '1'], /--nodes/)
  refused(['--memory-share', '1.5'], /--memory-share/)
  refused(['--shards', 'many'], /--shards/)
  assert.is(parseClusterConfig(['--help'], {}), undefined)
})

test.run()
