/**
 * `npm run bench [-- name...]`: runs the named benchmarks (default: all that exist) one after
 * another, each in its own process so one's memory and threads do not colour the next.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const available = ['core', 'tfrecord', 'fuse']
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : available
let failed = 0
for (const name of names) {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
  if (!existsSync(file)) {
    console.log(`bench ${name}: not built (${file} missing); skipping`)
    continue
  }
  console.log(`\n== bench ${name} ==`)
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit' })
  if (r.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
