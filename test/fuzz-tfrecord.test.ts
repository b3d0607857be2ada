/**
 * A bounded fuzz run over the TFRecord reader and the Example decoder (harness in
 * support/reliability-fuzz.ts): mutated real files and payloads must end in records or typed
 * errors, never a crash, a hang or an allocation sized by a forged length. The count is kept
 * small for npm test (SLUICE_FUZZ_CASES overrides it); bench/fuzz.ts runs the long version.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runFuzz } from './support/reliability-fuzz.js'

const CASES = Number(process.env.SLUICE_FUZZ_CASES ?? 1500)
const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 1)

test(`${CASES} mutated TFRecord files and Example payloads: only typed errors, no hang, bounded memory`, async () => {
  const f = await runFuzz(CASES, SEED)
  console.log(`[fuzz-tfrecord] ${JSON.stringify({ ...f, failures: f.failures.length })}`)
  assert.equal(f.failures.slice(0, 3), [], `${f.failures.length} cases failed`)
  assert.is(f.cases, CASES)
  assert.ok(f.corruptErrors > 0 && f.readOk > 0, 'mutations produced both readable and corrupt files')
  // No forged length became an allocation: the process stays far below the 256 MiB record bound.
  assert.ok(f.peakRssMiB < 600, `peak RSS ${f.peakRssMiB} MiB`)
})

test.run()
