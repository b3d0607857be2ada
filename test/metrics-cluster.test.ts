/**
 * The cluster tier's Prometheus counters (bin/support/metrics.ts) carry the counts of
 * `stats().tiers[cluster].cluster`, one sample per label value, and none without a cluster
 * tier. The stats are plain data here: what is under test is their rendering.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { buildRegistry } from '../bin/support/metrics.js'
import { newTierStats } from '../lib/cache/block-store.js'
import type { ClusterTierCounts, ReaderStats } from '../lib/index.js'

const counts: ClusterTierCounts = {
  crcFailures: 2,
  authFailures: 3,
  leasesWon: 5,
  leasesUnavailable: 7,
  leasesWaited: 11,
  leasesFilled: 13,
  leasesExpired: 17,
  leaseTimeouts: 19,
  directReads: 23,
  clientReads: 29,
}

function stats(withCluster: boolean): ReaderStats {
  const tiers = [newTierStats('memory', 100)]
  if (withCluster) tiers.push({ ...newTierStats('cluster', 0), cluster: counts })
  return {
    tiers,
    source: { requests: 0, gets: 0, stats: 0, lists: 0, bytes: 0, retries: 0, errors: 0 } as ReaderStats['source'],
    prefetch: { issuedBlocks: 0, usedBlocks: 0, wastedBlocks: 0, inflightBytes: 0, maxInflightBytes: 0 },
    openHandles: 0,
  }
}

test('each cluster count is one sample of its counter, under its label', async () => {
  const text = await buildRegistry({ reader: () => stats(true) }).metrics()
  const expected = [
    'sluice_cluster_rejected_values_total{check="crc"} 2',
    'sluice_cluster_rejected_values_total{check="hmac"} 3',
    'sluice_cluster_leases_total{outcome="won"} 5',
    'sluice_cluster_leases_total{outcome="unavailable"} 7',
    'sluice_cluster_leases_total{outcome="waited"} 11',
    'sluice_cluster_leases_total{outcome="filled"} 13',
    'sluice_cluster_leases_total{outcome="expired"} 17',
    'sluice_cluster_leases_total{outcome="timeout"} 19',
    'sluice_cluster_bulk_reads_total{path="direct"} 23',
    'sluice_cluster_bulk_reads_total{path="client"} 29',
  ]
  for (const line of expected) assert.ok(text.split('\n').includes(line), `${line} in the metrics`)
})

test('without a cluster tier the cluster counters have no samples', async () => {
  const text = await buildRegistry({ reader: () => stats(false) }).metrics()
  assert.not.match(text, /^sluice_cluster_\w+\{/m)
  assert.match(text, /# HELP sluice_cluster_bulk_reads_total/, 'the counter is still declared')
})

test.run()
