/**
 * The long fuzz run (npm test runs a bounded one): mutated TFRecord files and Example payloads
 * through the real reader and decoder, harness shared with test/fuzz-tfrecord.test.ts.
 * `node dist/bench/fuzz.js [cases=20000] [seed=1]`. Prints its configuration, progress, and a
 * JSON line; exits 1 if any case crashed, hung or threw an untyped error.
 */
import { runFuzz } from '../test/support/reliability-fuzz.js'

const cases = Number(process.argv[2] ?? 20_000)
const seed = Number(process.argv[3] ?? 1)
console.log(`fuzz: ${cases} cases, seed ${seed}`)
const started = Date.now()
const f = await runFuzz(cases, seed, (p) => console.log(`  ${p.cases} cases, ${p.failures.length} failures, peak RSS ${p.peakRssMiB} MiB`))
for (const failure of f.failures.slice(0, 10)) console.log(`FAIL ${failure}`)
console.log(JSON.stringify({ bench: 'fuzz', seed, seconds: (Date.now() - started) / 1000, ...f, failures: f.failures.length }))
process.exit(f.failures.length === 0 ? 0 : 1)
