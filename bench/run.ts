/**
 * `npm run bench [-- name... | flags]`: with no name, the full harness (bench/harness.ts:
 * cold versus warm epochs under a model of a remote store, with the baselines, the table,
 * the JSON lines and the chart). Named benches run one after another, each in its own
 * process so one's memory and threads do not colour the next:
 *
 *   npm run bench                       the harness, default size (a few minutes)
 *   npm run bench -- --quick            the harness's short form (what npm run demo runs)
 *   npm run bench -- --help             the harness's flags
 *   npm run bench -- core tfrecord fuse micro-benchmarks of the core, the loader, the mount
 *   npm run bench -- fuzz               the long fuzz run
 *   npm run bench -- cluster-sizing     Redis memory per block and eviction policies (the cluster tier)
 *   npm run bench -- elastic            TFRecord resume at another world size: time to first record, state sizes
 *   npm run bench -- all                harness, core, tfrecord, fuse
 *
 * Arguments starting with `-` are passed to the harness (or to the single named bench).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const known = ['harness', 'core', 'tfrecord', 'fuse', 'fuzz', 'cluster-sizing', 'elastic']
const args = process.argv.slice(2)
const flags = args.filter((a, i) => a.startsWith('-') || (i > 0 && args[i - 1]!.startsWith('--') && !args[i - 1]!.includes('=') && !known.includes(a) && a !== 'all'))
const named = args.filter((a) => !flags.includes(a))
const names = named.length === 0 ? ['harness'] : named.flatMap((n) => (n === 'all' ? ['harness', 'core', 'tfrecord', 'fuse'] : [n]))
let failed = 0
for (const name of names) {
  if (!known.includes(name)) {
    console.log(`bench ${name}: unknown; known: ${known.join(', ')}, all`)
    failed++
    continue
  }
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
  if (!existsSync(file)) {
    console.log(`bench ${name}: not built (${file} missing); skipping`)
    continue
  }
  if (names.length > 1) console.log(`\n== bench ${name} ==`)
  const r = spawnSync(process.execPath, [file, ...(name === 'harness' || names.length === 1 ? flags : [])], { stdio: 'inherit' })
  if (r.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
