#!/usr/bin/env node
/**
 * Builds the libfuse 3 addon (native/session.c and addon.c) at `npm ci`: the root package's
 * `install` script, also `npm run build:native`. It must never fail the install: where the
 * platform, pkg-config's fuse3 (Debian: libfuse3-dev), a C compiler, Node's headers or
 * node-gyp are missing, or the compile fails, it prints one line saying the libfuse 3
 * backend is unavailable and why, and exits 0; the mount then runs on fuse-native
 * (libfuse 2) and says so.
 *
 * node-gyp never downloads headers here: it is pointed at the ones beside this Node
 * (`<prefix>/include/node`, e.g. Debian's /usr/include/node), and the build is skipped with
 * the reason when they are absent. Plain JavaScript, because it runs before `tsc`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const addon = join(here, 'build', 'Release', 'sluice_fuse3.node')

function unavailable(reason) {
  console.log(`sluice: libfuse 3 backend unavailable (${reason}); the mount will use fuse-native (libfuse 2)`)
  process.exit(0)
}

function succeeds(file, args) {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 30_000 })
    return true
  } catch {
    return false
  }
}

/** node-gyp: the one npm runs scripts with, else npm's bundled copy, else a local one. */
function findNodeGyp() {
  const candidates = []
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp)
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
  const prefix = resolve(dirname(process.execPath), '..')
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'))
  return candidates.find((c) => existsSync(c))
}

if (process.platform !== 'linux') unavailable(`not Linux (${process.platform})`)
if (!succeeds('pkg-config', ['--version'])) unavailable('pkg-config not found; Debian/Ubuntu: apt-get install pkg-config libfuse3-dev')
if (!succeeds('pkg-config', ['--exists', 'fuse3'])) unavailable('pkg-config finds no fuse3; Debian/Ubuntu: apt-get install libfuse3-dev')
if (!succeeds('cc', ['--version']) || !succeeds('make', ['--version'])) unavailable('no C compiler or make; Debian/Ubuntu: apt-get install build-essential')
const nodedir = resolve(dirname(process.execPath), '..')
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  unavailable(`no Node headers at ${join(nodedir, 'include', 'node')} (node-gyp may not download them here)`)
}
const nodeGyp = findNodeGyp()
if (nodeGyp === undefined) unavailable('node-gyp not found (it ships with npm)')

rmSync(addon, { force: true })
const build = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: here,
  encoding: 'utf8',
  timeout: 300_000,
  env: { ...process.env, npm_config_nodedir: nodedir },
})
if (build.status !== 0 || !existsSync(addon)) {
  const lines = `${build.stderr ?? ''}\n${build.stdout ?? ''}`.split('\n').filter((l) => /error/i.test(l) && !/^gyp (info|ERR! (cwd|node|System|command|node-gyp|stack))/.test(l))
  unavailable(`the build failed: ${(lines[0] ?? build.error?.message ?? `node-gyp exited ${build.status}`).trim()}`)
}
console.log(`sluice: built the libfuse 3 backend (libfuse ${execFileSync('pkg-config', ['--modversion', 'fuse3'], { encoding: 'utf8' }).trim()})`)
