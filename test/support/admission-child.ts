/**
 * A second process for the admission tests: opens the disk tier of a cacheDir the parent
 * uses at the same time (with a sketch of its own, as any other process has), reads a
 * dataset the given number of times and prints what each pass fetched as one JSON line.
 * Arguments: dir, maxBytes, dataset name, block count, passes.
 */
import { LmdbBlockStore } from '../../lib/index.js'
import { dataset, passes } from './block-passes.js'

const [dir, maxBytes, name, count, times] = process.argv.slice(2)
const store = new LmdbBlockStore({ path: dir!, maxBytes: Number(maxBytes), blockSize: 64 * 1024 })
await store.init()
const keys = dataset(name!, Number(count))
const fetched = await passes(store, Array.from({ length: Number(times) }, () => keys))
await store.close()
process.stdout.write(JSON.stringify({ fetched }) + '\n')
