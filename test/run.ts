/**
 * Runs every compiled `*.test.js` under dist/test with uvu in one child process, with a
 * wall-clock limit so a hung test fails the run instead of stalling CI, and ends with the
 * plain `N passed, N failed, N skipped` line that CI reads.
 *
 * `node dist/test/run.js [pattern]` runs only the files whose name matches the pattern.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const LIMIT_MS = 12 * 60 * 1000
const here = dirname(fileURLToPath(import.meta.url))
// uvu exports no path to its CLI; it sits at the package root, beside dist/.
const uvuBin = join(dirname(createRequire(import.meta.url).resolve('uvu')), '..', 'bin.js')
const filter = process.argv[2]
const pattern = filter === undefined ? '\\.test\\.js$' : `(${filter}).*\\.test\\.js$`

const child = spawn(process.execPath, [uvuBin, here, pattern, '--color', 'false'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
})
let out = ''
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk)
  out += chunk.toString()
  if (out.length > 1e6) out = out.slice(-1e5)
})
const timer = setTimeout(() => {
  console.error(`\ntest run exceeded ${LIMIT_MS / 60000} minutes; killing it`)
  child.kill('SIGKILL')
}, LIMIT_MS)
child.on('exit', (code, signal) => {
  clearTimeout(timer)
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? 0)
  const total = num('Total')
  const passed = num('Passed')
  const skipped = num('Skipped')
  // uvu's Total counts the tests that ran; skipped ones are reported beside it, not in it.
  const failed = Math.max(0, total - passed) + (code === 0 ? 0 : total === 0 ? 1 : 0)
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`)
  process.exit(code ?? (signal ? 1 : 0))
})
