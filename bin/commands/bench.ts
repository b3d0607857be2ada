/**
 * `sluice bench`: reserved for the benchmark command of a later issue. Until then it says so
 * and exits 2; this file is the one place to wire it to bench/ when it exists.
 */
import type { Command } from '../support/command.js'
import { ExitCode } from '../support/exit-codes.js'

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Benchmarks (not available yet; use npm run bench).',
  usage: ['sluice bench'],
  description: `
Not available yet: the benchmark command arrives with a later release. The benchmark
scripts run from a source checkout with: npm run bench (FUSE: node dist/bench/fuse.js).`,
  groups: [],
  examples: ['npm run bench'],
  positionals: [0, Number.MAX_SAFE_INTEGER],
  async run(ctx) {
    ctx.stderr.write('sluice bench: not available yet; from a source checkout run: npm run bench (FUSE: node dist/bench/fuse.js)\n')
    return ExitCode.USAGE
  },
}
