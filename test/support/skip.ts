/**
 * Tests that cannot run on this machine are skipped in the open: the runner counts them (uvu's
 * `test.skip`) and the reason is printed, so a missing prerequisite never turns into a silent
 * pass. Only for prerequisites of the machine (root, /dev/fuse, a system tool); a dependency of
 * the project that fails (s3rver, LMDB) is a failure, not a skip. The reason must be known
 * when the tests are registered, so callers probe for it at module load.
 */
import { test, type Test } from 'uvu'

/** Prints why `what` is skipped when `reason` is set; returns `reason`. */
export function announceSkip(label: string, what: string, reason: string | undefined): string | undefined {
  if (reason !== undefined) console.log(`\n[${label}] SKIPPING ${what}: ${reason}`)
  return reason
}

/** `runner` when `reason` is undefined, else its `skip`, so each test it registers counts as skipped. */
export function testUnless(reason: string | undefined, runner: Test = test): Test {
  return reason === undefined ? runner : (runner.skip as unknown as Test)
}
