/**
 * The shape of one CLI command and the parsing and help rendering they share. Each command
 * declares its options once (name, value kind, help line), and the same declaration drives
 * `node:util` parseArgs and the `--help` text, so the two cannot drift apart.
 */
import { parseArgs } from 'node:util'
import { UsageError } from './exit-codes.js'

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  /** Shown as `--name <value>`; for string options. */
  value?: string
  help: string
  multiple?: boolean
}

export type OptionSpecs = Record<string, OptionSpec>

export interface OptionGroup {
  title: string
  options: OptionSpecs
}

/** Everything a command's `run` gets. */
export interface CommandContext {
  positionals: string[]
  values: Record<string, string | boolean | string[] | undefined>
  debug: boolean
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  /** One line on stderr, prefixed with `sluice <command>:`. */
  log(line: string): void
}

export interface Command {
  name: string
  /** One line for `sluice --help`. */
  summary: string
  /** `sluice <name> ...` forms. */
  usage: string[]
  /** What it does, a paragraph or two. */
  description: string
  groups: OptionGroup[]
  examples: string[]
  /** [min, max] positionals. */
  positionals: [number, number]
  run(ctx: CommandContext): Promise<number>
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpecs = {
  help: { type: 'boolean', short: 'h', help: 'Show this help.' },
  debug: { type: 'boolean', help: 'Print stack traces and runtime warnings.' },
}

export function parseCommandArgs(command: Command, argv: string[]): { positionals: string[]; values: CommandContext['values'] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {}
  for (const group of [...command.groups, { title: '', options: COMMON_OPTIONS }]) {
    for (const [name, spec] of Object.entries(group.options)) {
      options[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) }
    }
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    // parseArgs' messages are long and mention internals; keep the first sentence.
    const message = (err as Error).message.split('. ')[0]!.replace(/\.$/, '')
    throw new UsageError(`${message}; see: sluice ${command.name} --help`)
  }
  const values = parsed.values as CommandContext['values']
  if (values.help) return { positionals: parsed.positionals, values }
  const [min, max] = command.positionals
  if (parsed.positionals.length < min) {
    throw new UsageError(`missing argument; usage: ${command.usage[0]} (see: sluice ${command.name} --help)`)
  }
  if (parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}; usage: ${command.usage[0]}`)
  }
  return { positionals: parsed.positionals, values }
}

function flagOf(name: string, spec: OptionSpec): string {
  return (spec.short ? `-${spec.short}, ` : '    ') + `--${name}` + (spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : '')
}

function optionLines(specs: OptionSpecs, width: number): string[] {
  return Object.entries(specs).map(([name, spec]) => `  ${flagOf(name, spec).padEnd(width)}${spec.help}`)
}

export function renderHelp(command: Command): string {
  const out: string[] = []
  out.push('Usage:')
  for (const u of command.usage) out.push(`  ${u}`)
  out.push('', command.description.trim(), '')
  const groups = [...command.groups, { title: 'General', options: COMMON_OPTIONS }]
  const width = Math.max(...groups.flatMap((g) => Object.entries(g.options).map(([n, s]) => flagOf(n, s).length))) + 2
  for (const group of groups) {
    if (Object.keys(group.options).length === 0) continue
    out.push(`${group.title}:`, ...optionLines(group.options, width), '')
  }
  if (command.examples.length) {
    out.push('Examples:')
    for (const e of command.examples) out.push(`  ${e}`)
    out.push('')
  }
  out.push('Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 access denied, 5 preload incomplete, 6 mount problem.')
  return out.join('\n') + '\n'
}
