/**
 * The `sluice` command as a user runs it: spawned processes against a real S3-compatible
 * server (configured through AWS_* variables), checking exit codes, stdout and the one-line
 * errors on stderr. Mount commands are in cli-mount.test.ts.
 */
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { run, tempDir } from './support/fuse-env.js'
import { SLUICE_BIN, sluice, startDataset, type Dataset } from './support/fuse-dataset.js'

let d: Dataset | undefined
let cacheDir: string | undefined
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex')

test.before(async () => {
  d = await startDataset()
  cacheDir = await tempDir('cli-cache')
})

test.after(async () => {
  await d?.close()
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true })
})

/** Exactly one line on stderr, naming the command. */
function oneErrorLine(stderr: string, command: string): string {
  const lines = stderr.trim().split('\n')
  assert.is(lines.length, 1, `expected one stderr line, got:\n${stderr}`)
  assert.ok(lines[0]!.startsWith(`sluice ${command}: `) || lines[0]!.startsWith('sluice: '), lines[0])
  return lines[0]!
}

test('--version, --help, help <command>, and every command has --help with examples', async () => {
  const v = await sluice(d, ['--version'])
  assert.is(v.code, 0)
  assert.match(v.stdout, /^sluice \d+\.\d+\.\d+\n$/)
  const h = await sluice(d, ['--help'])
  assert.is(h.code, 0)
  for (const c of ['ls', 'cat', 'preload', 'stats', 'cache', 'mount', 'unmount', 'bench']) assert.ok(h.stdout.includes(`  ${c} `), c)
  for (const c of ['ls', 'cat', 'preload', 'stats', 'cache', 'mount', 'unmount']) {
    const r = await sluice(d, [c, '--help'])
    assert.is(r.code, 0, c)
    assert.ok(r.stdout.includes('Usage:') && r.stdout.includes('Examples:') && r.stdout.includes('Exit codes:'), c)
  }
  const viaHelp = await sluice(d, ['help', 'preload'])
  assert.ok(viaHelp.stdout.includes('--dry-run'))
})

test('usage errors exit 2 with one line', async () => {
  const none = await sluice(d, [])
  assert.is(none.code, 2)
  const unknown = await sluice(d, ['frobnicate'])
  assert.is(unknown.code, 2)
  assert.match(oneErrorLine(unknown.stderr, 'frobnicate'), /unknown command "frobnicate"/)
  const badOpt = await sluice(d, ['ls', '--bogus', 's3://sluice/'])
  assert.is(badOpt.code, 2)
  assert.match(oneErrorLine(badOpt.stderr, 'ls'), /--bogus/)
  const badSize = await sluice(d, ['preload', 's3://sluice/ds/', '--cache-dir', cacheDir!, '--disk', 'lots'])
  assert.is(badSize.code, 2)
  assert.match(oneErrorLine(badSize.stderr, 'preload'), /--disk: cannot parse size "lots"/)
  const missingArg = await sluice(d, ['cat'])
  assert.is(missingArg.code, 2)
  const noCache = await sluice(d, ['preload', 's3://sluice/ds/'])
  assert.is(noCache.code, 2)
  assert.match(oneErrorLine(noCache.stderr, 'preload'), /--cache-dir/)
  const bench = await sluice(d, ['bench', '--shards', 'many'])
  assert.is(bench.code, 2)
  assert.match(oneErrorLine(bench.stderr, 'bench'), /--shards must be a non-negative number/)
})

test('bad URLs exit 2, missing objects and buckets exit 3, stack only with --debug', async () => {
  const bad = await sluice(d, ['ls', 'not-a-url'])
  assert.is(bad.code, 2)
  assert.match(oneErrorLine(bad.stderr, 'ls'), /invalid object URL "not-a-url".*\[ERR_SLUICE_INVALID_URL\]/)
  const scheme = await sluice(d, ['cat', 'gs://bucket/x'])
  assert.is(scheme.code, 2)
  assert.match(oneErrorLine(scheme.stderr, 'cat'), /unsupported URL scheme "gs"/)
  const missing = await sluice(d, ['cat', 's3://sluice/ds/nope.bin'])
  assert.is(missing.code, 3)
  assert.match(oneErrorLine(missing.stderr, 'cat'), /object not found: s3:\/\/sluice\/ds\/nope\.bin \[ERR_SLUICE_NOT_FOUND\]/)
  const bucket = await sluice(d, ['ls', 's3://no-such-bucket/x/'])
  assert.is(bucket.code, 3)
  assert.match(oneErrorLine(bucket.stderr, 'ls'), /bucket "no-such-bucket" does not exist/)
  const empty = await sluice(d, ['ls', 's3://sluice/nothing-here/'])
  assert.is(empty.code, 3)
  const debug = await sluice(d, ['cat', 's3://sluice/ds/nope.bin', '--debug'])
  assert.is(debug.code, 3)
  assert.match(debug.stderr, /\n\s+at /)
})

test('ls: one level with DIR lines, --recursive with sizes, one object', async () => {
  const top = await sluice(d, ['ls', 's3://sluice/ds/'])
  assert.is(top.code, 0, top.stderr)
  const lines = top.stdout.trim().split('\n')
  assert.equal(lines.map((l) => l.trim().split(/\s+/).pop()), ['s3://sluice/ds/eval/', 's3://sluice/ds/tfrecord/', 's3://sluice/ds/train/'])
  assert.ok(lines.every((l) => l.trim().startsWith('DIR')))
  const all = await sluice(d, ['ls', '-r', 's3://sluice/ds'])
  assert.is(all.code, 0)
  const rows = all.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/))
  assert.is(rows.length, Object.keys(d!.objects).length)
  for (const row of rows) {
    const key = row[row.length - 1]!.slice('s3://sluice/'.length)
    assert.is(Number(row[0]), d!.objects[key]!.length, key)
    assert.match(row[1]!, /^\d{4}-\d\d-\d\d$/)
  }
  assert.match(all.stderr, new RegExp(`^${rows.length} objects, `))
  const train = await sluice(d, ['ls', 's3://sluice/ds/train'])
  assert.ok(train.stdout.includes('s3://sluice/ds/train/sub/'), train.stdout)
  assert.ok(train.stdout.includes('s3://sluice/ds/train/shard-0.bin'))
  const one = await sluice(d, ['ls', '-H', 's3://sluice/ds/eval/e.bin'])
  assert.is(one.code, 0)
  assert.match(one.stdout, /97\.66 KiB .* s3:\/\/sluice\/ds\/eval\/e\.bin/)
})

test('cat: whole objects and byte ranges, byte-identical; a closed pipe is not an error', async () => {
  for (const key of ['ds/eval/e.bin', 'ds/train/shard-2.bin']) {
    const r = await sluice(d, ['cat', `s3://sluice/${key}`])
    assert.is(r.code, 0, r.stderr)
  }
  const { run } = await import('./support/fuse-env.js')
  const { SLUICE_BIN } = await import('./support/fuse-dataset.js')
  const whole = await run('sh', ['-c', `"${process.execPath}" "${SLUICE_BIN}" cat s3://sluice/ds/train/shard-2.bin | sha256sum`], { env: d!.env })
  assert.is(whole.stdout.split(' ')[0], sha(d!.objects['ds/train/shard-2.bin']!))
  const range = await run('sh', ['-c', `"${process.execPath}" "${SLUICE_BIN}" cat s3://sluice/ds/train/shard-2.bin --offset 1000000 --length 70KiB | sha256sum`], { env: d!.env })
  assert.is(range.stdout.split(' ')[0], sha(d!.objects['ds/train/shard-2.bin']!.subarray(1_000_000, 1_000_000 + 70 * 1024)))
  const head = await run('sh', ['-c', `"${process.execPath}" "${SLUICE_BIN}" cat s3://sluice/ds/tfrecord/mnist.tfrecord | head -c 10 >/dev/null`], { env: d!.env })
  assert.is(head.stderr, '', head.stderr)
  const past = await sluice(d, ['cat', 's3://sluice/ds/eval/e.bin', '--offset', '1GiB'])
  assert.is(past.code, 2)
})

test('preload: dry run, fill, idempotent second run, then stats', async () => {
  const dry = await sluice(d, ['preload', 's3://sluice/ds/', '--cache-dir', cacheDir!, '--dry-run'])
  assert.is(dry.code, 0, dry.stderr)
  assert.match(dry.stdout, /dry run: 7 objects, .* would be fetched/)
  assert.match(dry.stdout, /: fits/)
  const fill = await sluice(d, ['preload', 's3://sluice/ds/', '--cache-dir', cacheDir!, '--progress-interval', '0'])
  assert.is(fill.code, 0, fill.stderr)
  assert.match(fill.stdout, /^preloaded 7\.20 MiB of 7\.20 MiB resident \(7 objects\)/)
  assert.match(fill.stderr, /preload: .* \/ 7\.20 MiB \(100\.0%\), .*\/s, ETA -, 7\/7 objects/)
  const again = await sluice(d, ['preload', 's3://sluice/ds/', '--cache-dir', cacheDir!, '--json'])
  assert.is(again.code, 0)
  const result = JSON.parse(again.stdout) as { complete: boolean; fetchedBytes: number; objects: unknown[] }
  assert.is(result.complete, true)
  assert.is(result.fetchedBytes, 0)
  assert.is(result.objects.length, 7)
  const stats = await sluice(d, ['stats', '--cache-dir', cacheDir!])
  assert.is(stats.code, 0, stats.stderr)
  assert.match(stats.stdout, /disk tier: 7\.\d\d MiB used of 10\.00 GiB \(0\.1%\), \d+ blocks/)
  // Preload checks residency without counting hits; nothing has been read yet.
  assert.match(stats.stdout, /recorded by every process: nothing yet/)
  // A reader in another process hits the disk tier; its hits stay recorded after it exits.
  const cat = await sluice(d, ['cat', 's3://sluice/ds/eval/e.bin', '--cache-dir', cacheDir!])
  assert.is(cat.code, 0, cat.stderr)
  const after = await sluice(d, ['stats', '--cache-dir', cacheDir!])
  assert.match(after.stdout, /recorded since \S+ by every process: hits [1-9]\d* \([^)]+\), misses 0, hit ratio 100\.0%/)
  const json = JSON.parse((await sluice(d, ['stats', '--cache-dir', cacheDir!, '--json'])).stdout) as { tiers: { name: string; entries: number }[] }
  assert.ok(json.tiers.find((t) => t.name === 'disk')!.entries >= 7)
})

test('preload: anything not resident exits 5 with what and why', async () => {
  const missing = await sluice(d, ['preload', 's3://sluice/ds/eval/', 's3://sluice/ds/absent.bin', '--cache-dir', cacheDir!])
  assert.is(missing.code, 5)
  assert.match(missing.stdout, /INCOMPLETE/)
  assert.match(missing.stdout, /failed: s3:\/\/sluice\/ds\/absent\.bin: .*\[ERR_SLUICE_NOT_FOUND\]/)
  const small = await tempDir('cli-small-cache')
  try {
    const dry = await sluice(d, ['preload', 's3://sluice/ds/', '--cache-dir', small, '--disk', '2MiB', '--dry-run'])
    assert.is(dry.code, 5)
    assert.match(dry.stdout, /does NOT fit/)
    const full = await sluice(d, ['preload', 's3://sluice/ds/', '--cache-dir', small, '--disk', '2MiB'])
    assert.is(full.code, 5)
    assert.match(full.stdout, /INCOMPLETE/)
    assert.match(full.stdout, /does not fit the tier being filled/)
  } finally {
    await rm(small, { recursive: true, force: true })
  }
})

test('cache evict and clear', async () => {
  const one = await sluice(d, ['cache', 'evict', 's3://sluice/ds/eval/e.bin', '--cache-dir', cacheDir!])
  assert.is(one.code, 0, one.stderr)
  assert.match(one.stdout, /^evicted [1-9]\d* blocks? of 1 object\n$/)
  const prefix = await sluice(d, ['cache', 'evict', 's3://sluice/ds/train/', '--cache-dir', cacheDir!])
  assert.match(prefix.stdout, /of 5 objects/)
  const clear = await sluice(d, ['cache', 'clear', '--cache-dir', cacheDir!])
  assert.is(clear.code, 0)
  const json = JSON.parse((await sluice(d, ['stats', '--cache-dir', cacheDir!, '--json'])).stdout) as { tiers: { entries: number; usedBytes: number }[] }
  assert.is(json.tiers[0]!.entries, 0)
  const bad = await sluice(d, ['cache', 'shred', '--cache-dir', cacheDir!])
  assert.is(bad.code, 2)
})

test('several cache directories: preload spreads the blocks, stats lists each, $SLUICE_CACHE_DIR names them too, clear empties them all', async () => {
  const root = await tempDir('cli-multi-cache')
  const [a, b] = [`${root}/a`, `${root}/b`]
  try {
    const flags = ['--cache-dir', `${a}:8MiB`, '--cache-dir', `${b}:16MiB`]
    const fill = await sluice(d, ['preload', 's3://sluice/ds/', ...flags, '--progress-interval', '0'])
    assert.is(fill.code, 0, fill.stderr)
    assert.match(fill.stdout, /^preloaded 7\.20 MiB of 7\.20 MiB resident/)
    const text = await sluice(d, ['stats', ...flags])
    assert.is(text.code, 0, text.stderr)
    assert.match(text.stdout, new RegExp(`^cache directories: ${a}, ${b}\n`))
    assert.match(text.stdout, /disk tier: 7\.\d\d MiB used of 24\.00 MiB/)
    assert.match(text.stdout, new RegExp(`directory ${a}: .* used of 8\\.00 MiB .*, [1-9]\\d* blocks`))
    assert.match(text.stdout, new RegExp(`directory ${b}: .* used of 16\\.00 MiB .*, [1-9]\\d* blocks`))
    // The same directories from the environment, in the other order: the same blocks.
    const viaEnv = await run(process.execPath, [SLUICE_BIN, 'stats', '--json'], { env: { ...d!.env, SLUICE_CACHE_DIR: `${b}:16MiB,${a}:8MiB` } })
    assert.is(viaEnv.code, 0, viaEnv.stderr)
    const json = JSON.parse(viaEnv.stdout) as { cacheDirs: string[]; tiers: { name: string; entries: number; dirs: { path: string; entries: number; maxBytes: number }[] }[] }
    assert.equal(json.cacheDirs, [b, a])
    const disk = json.tiers.find((t) => t.name === 'disk')!
    assert.equal(disk.dirs.map((x) => [x.path, x.maxBytes]), [[b, 16 * 1024 * 1024], [a, 8 * 1024 * 1024]])
    assert.is(disk.entries, disk.dirs[0]!.entries + disk.dirs[1]!.entries)
    const clear = await sluice(d, ['cache', 'clear', ...flags])
    assert.is(clear.code, 0, clear.stderr)
    assert.match(clear.stdout, new RegExp(`from ${a}, ${b}\n$`))
    const after = JSON.parse((await sluice(d, ['stats', ...flags, '--json'])).stdout) as typeof json
    assert.equal(after.tiers[0]!.dirs.map((x) => x.entries), [0, 0])

    const twice = await sluice(d, ['stats', '--cache-dir', a, '--cache-dir', `${a}/`])
    assert.is(twice.code, 2)
    assert.match(oneErrorLine(twice.stderr, 'stats'), /--cache-dir: .* is given twice/)
    const both = await sluice(d, ['stats', '--cache-dir', `${a}:8MiB`, '--disk', '1GiB'])
    assert.is(both.code, 2)
    assert.match(oneErrorLine(both.stderr, 'stats'), /--disk and --cache-dir DIR:SIZE/)
    const badSize = await sluice(d, ['stats', '--cache-dir', `${a}:8QiB`])
    assert.is(badSize.code, 2)
    assert.match(oneErrorLine(badSize.stderr, 'stats'), /--cache-dir: cannot parse size "8QiB"/)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

test.run()
