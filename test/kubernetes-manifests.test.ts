/**
 * The Kubernetes examples (examples/kubernetes/) run `sluice` with flags; a flag the CLI does
 * not accept would make every pod of the DaemonSet crash-loop. Each `args` line of a
 * container whose command is `sluice` is parsed here by the CLI's own argument parser.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mountCommand } from '../bin/commands/mount.js'
import { preloadCommand } from '../bin/commands/preload.js'
import { catCommand } from '../bin/commands/cat.js'
import { parseCommandArgs, type Command } from '../bin/support/command.js'

// Tests run from dist/test; the manifests stay in the source tree.
const MANIFESTS = fileURLToPath(new URL('../../examples/kubernetes/', import.meta.url))
const COMMANDS: Record<string, Command> = { mount: mountCommand, preload: preloadCommand, cat: catCommand }

/** Every `command: ["sluice"]` container's args, with the file it came from. */
async function sluiceInvocations(): Promise<{ file: string; args: string[] }[]> {
  const out: { file: string; args: string[] }[] = []
  for (const name of (await readdir(MANIFESTS)).filter((f) => f.endsWith('.yaml'))) {
    const lines = (await readFile(join(MANIFESTS, name), 'utf8')).split('\n')
    lines.forEach((line, i) => {
      if (!/^\s*command:\s*\["sluice"\]\s*$/.test(line)) return
      const argsLine = lines[i + 1] ?? ''
      const m = /^\s*args:\s*(\[.*\])\s*$/.exec(argsLine)
      if (!m) throw new Error(`${name}:${i + 2}: a sluice container's args must follow its command as a JSON array`)
      out.push({ file: `${name}:${i + 2}`, args: JSON.parse(m[1]!) as string[] })
    })
  }
  return out
}

test('the manifests run sluice mount and sluice preload', async () => {
  const commands = (await sluiceInvocations()).map((inv) => inv.args[0])
  assert.ok(commands.includes('mount'), 'a DaemonSet runs sluice mount')
  assert.ok(commands.includes('preload'), 'a warm-up Job runs sluice preload')
})

test('every sluice flag in the manifests is one the CLI accepts, with the positionals it needs', async () => {
  for (const { file, args } of await sluiceInvocations()) {
    const [name, ...rest] = args
    const command = COMMANDS[name!]
    assert.ok(command, `${file}: unknown command ${name}`)
    let parsed: ReturnType<typeof parseCommandArgs>
    try {
      parsed = parseCommandArgs(command!, rest)
    } catch (err) {
      throw new Error(`${file}: sluice ${name} rejects its args: ${(err as Error).message}`)
    }
    const [min, max] = command!.positionals
    assert.ok(parsed.positionals.length >= min && parsed.positionals.length <= max, `${file}: ${parsed.positionals.length} positionals`)
  }
})

test('the parser used above does reject a flag the CLI does not know', () => {
  try {
    parseCommandArgs(mountCommand, ['s3://b/p', '/mnt/x', '--no-such-flag'])
  } catch (err) {
    assert.match((err as Error).message, /no-such-flag/)
    return
  }
  assert.unreachable('an unknown flag must be an error')
})

test.run()
