/**
 * Preload a dataset into the node's cache before a training job starts, and refuse to start
 * the job if it did not all arrive. The library form of `sluice preload`:
 *
 *   node dist/examples/preload-dataset.js s3://bucket/train/ /var/cache/sluice && python train.py
 *
 * Any later reader on the same cache directory (a `sluice mount`, a BlockReader in another
 * process, the TFRecord loader) is served from it without requests to the store.
 */
import { BlockReader, GiB, formatBytes } from 'sluice'

const [prefix, cacheDir = '/var/cache/sluice'] = process.argv.slice(2)
if (prefix === undefined) {
  console.error('usage: preload-dataset <s3://bucket/prefix/> [cache-dir]')
  process.exit(2)
}

const reader = new BlockReader({ cacheDir, disk: { maxBytes: 100 * GiB } })
try {
  // Ask first whether it fits, so a too-small cache fails fast instead of evicting itself.
  const plan = await reader.preload([prefix], { dryRun: true })
  console.log(`${formatBytes(plan.requestedBytes)} requested, ${formatBytes(plan.fetchedBytes)} to fetch, capacity ${formatBytes(plan.capacityBytes)}`)
  if (plan.requestedBytes > plan.capacityBytes) {
    console.error('the dataset does not fit the disk tier; raise disk.maxBytes')
    process.exitCode = 5
  } else {
    let lastPrint = 0
    const result = await reader.preload([prefix], {
      onProgress: (p) => {
        if (Date.now() - lastPrint < 2000) return
        lastPrint = Date.now()
        console.log(`${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}, ${p.objectsDone}/${p.objectsTotal} objects`)
      },
    })
    console.log(`${formatBytes(result.residentBytes)} of ${formatBytes(result.requestedBytes)} resident`)
    for (const f of result.failed) console.error(`failed: ${f.url}: ${f.message}`)
    process.exitCode = result.complete ? 0 : 5
  }
} finally {
  await reader.close()
}
