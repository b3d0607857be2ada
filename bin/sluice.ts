#!/usr/bin/env node
/**
 * The `sluice` command: a thin shell over the library. This file only finds the command,
 * runs it, and turns the outcome into an exit code and at most one line on stderr (a stack
 * trace only with --debug). Each command lives in bin/commands/ and owns its options, help
 * and examples; the exit codes are in bin/support/exit-codes.ts and docs/fuse-cli.md.
 */
import { readFile } from 'node:fs/promises'
import { benchCommand } from './commands/bench.js'
import { cacheCommand } from './commands/cache.js'
import { catCommand } from './commands/cat.js'
import { lsCommand } from './commands/ls.js'
import { mountCommand } from './commands/mount.js'
import { preloadCommand } from './commands/preload.js'
import { statsCommand } from './commands/stats.js'
import { unmountCommand } from './commands/unmount.js'
import { parseCommandArgs, renderHelp, type Command, type CommandContext } from './support/command.js'
import { ExitCode, UsageError, exitCodeFor } from './support/exit-codes.js'

const COMMANDS: Command[] = [lsCommand, catCommand, preloadCommand, statsCommand, cacheCommand, mountCommand, unmountCommand, benchCommand]

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'Usage: sluice <command> [options]',
    '',
    'A compute-side cache for training data in object storage (S3, files, HTTP).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options: -h, --help (also after a command), -V, --version, --debug (stack traces).',
    'The store is configured by the standard AWS_* variables (AWS_ENDPOINT_URL, AWS_REGION,',
    'AWS_ACCESS_KEY_ID, AWS_PROFILE, ...); $SLUICE_CACHE_DIR supplies --cache-dir.',
    '',
    'Examples:',
    '  sluice ls s3://bucket/train/',
    '  sluice preload s3://bucket/train/ --cache-dir /var/cache/sluice',
    '  sluice mount s3://bucket/train /mnt/train --cache-dir /var/cache/sluice --memory 2GiB --disk 100GiB',
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 access denied, 5 preload incomplete, 6 mount problem.',
    '',
  ].join('\n')
}

/** The message and its causes, one line: "a: b: c". */
function oneLine(err: unknown): string {
  const parts: string[] = []
  let e: unknown = err
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : String(e)
    if (message && !parts.some((p) => p.includes(message))) parts.push(message)
    e = e instanceof Error ? e.cause : undefined
    // Our own errors already say what their cause was; don't repeat it.
    if (parts.length === 1 && (err as { code?: string }).code?.startsWith('ERR_SLUICE_')) break
  }
  const code = (err as { code?: unknown } | null)?.code
  return parts.join(': ').replace(/\s*\n\s*/g, ' ') + (typeof code === 'string' && code.startsWith('ERR_SLUICE_') ? ` [${code}]` : '')
}

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug')
  // Runtime warnings (e.g. the AWS SDK's Node version notice) would break "one line on stderr".
  process.removeAllListeners('warning')
  process.on('warning', (w) => {
    if (debug) process.stderr.write(`sluice: warning: ${w.stack ?? w.message}\n`)
  })

  const first = argv.find((a) => !a.startsWith('-'))
  if (first === undefined) {
    if (argv.includes('--version') || argv.includes('-V')) {
      process.stdout.write(`sluice ${await version()}\n`)
      return ExitCode.OK
    }
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(mainHelp())
      return ExitCode.OK
    }
    process.stderr.write(mainHelp())
    return ExitCode.USAGE
  }
  const rest = argv.slice(argv.indexOf(first) + 1)
  const leading = argv.slice(0, argv.indexOf(first)).filter((a) => a !== '--debug')
  let name = first
  if (first === 'help') {
    name = rest[0] ?? ''
    if (name === '') {
      process.stdout.write(mainHelp())
      return ExitCode.OK
    }
    rest.splice(0, rest.length, '--help')
  }
  const command = COMMANDS.find((c) => c.name === name)
  const prefix = command ? `sluice ${command.name}` : 'sluice'
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see: sluice --help)`)
    if (leading.length > 0) throw new UsageError(`options go after the command: sluice ${name} ${leading.join(' ')} ...`)
    const { positionals, values } = parseCommandArgs(command, rest)
    if (values.help) {
      process.stdout.write(renderHelp(command))
      return ExitCode.OK
    }
    const ctx: CommandContext = {
      positionals,
      values,
      debug,
      stdout: process.stdout,
      stderr: process.stderr,
      log: (line) => process.stderr.write(`${prefix}: ${line}\n`),
    }
    return await command.run(ctx)
  } catch (err) {
    process.stderr.write(`${prefix}: ${oneLine(err)}\n`)
    if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n${err.cause instanceof Error ? `caused by: ${err.cause.stack}\n` : ''}`)
    return exitCodeFor(err)
  }
}

const code = await main(process.argv.slice(2))
// Exit explicitly: a keep-alive socket or a library timer must not keep a finished command alive.
process.stdout.write('', () => process.exit(code))
