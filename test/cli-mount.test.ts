/**
 * `sluice mount` and `sluice unmount` as separate processes, the way operators run them:
 * reading through a CLI mount, metrics, the cache shared with another process, clean
 * shutdown on SIGTERM and on `sluice unmount`, stale mounts left by SIGKILL, and the clear
 * errors for a busy, non-empty or missing mountpoint and a bad URL; each on both bindings
 * (--fuse-backend libfuse3 and fuse-native), and the fallback to fuse-native, with the line
 * that says why, where the libfuse 3 addon is missing. Skips (saying why) without /dev/fuse
 * or the binding.
 */
import { createHash } from 'node:crypto'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { findMount, isStaleMount } from '../fuse/index.js'
import { BlockReader } from '../lib/index.js'
import { forEachBackend, run, spawnLong, tempDir, tempMountpoint, type Spawned } from './support/fuse-env.js'
import { cliFixture, SLUICE_BIN, sluice, sluiceLong } from './support/fuse-dataset.js'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

await forEachBackend('cli-mount', ({ backend, it, suite: test, skip }) => {
  const fx = cliFixture(test, skip)

  async function newMountpoint(): Promise<string> {
    const mnt = await tempMountpoint('cli-mount')
    fx.mountpoints.push(mnt)
    return mnt
  }

  async function startMount(mnt: string, extra: string[] = []): Promise<{ daemon: Spawned; metricsUrl: string | undefined }> {
    const daemon = sluiceLong(fx.dataset!, ['mount', 's3://sluice/ds', mnt, '--fuse-backend', backend, ...extra])
    fx.daemons.push(daemon)
    await daemon.waitForLine(/^mounted s3:\/\/sluice\/ds\/ at /)
    const metricsLine = extra.includes('--metrics-port') ? await daemon.waitForLine(/metrics on http/) : undefined
    return { daemon, metricsUrl: metricsLine?.match(/http:\/\/\S+/)?.[0] }
  }

  async function shaThroughMount(mnt: string): Promise<void> {
    const keys = Object.keys(fx.dataset!.objects)
    const results = await Promise.all(keys.map((k) => run('sha256sum', [join(mnt, k.slice(3))])))
    results.forEach((r, i) => assert.is(r.stdout.split(' ')[0], sha(fx.dataset!.objects[keys[i]!]!), `${keys[i]}: ${r.stderr}`))
  }

  function metric(text: string, name: string, labels = ''): number {
    const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `))
    assert.ok(line, `metric ${name}{${labels}} missing`)
    return Number(line!.split(' ').pop())
  }

  async function assertCleanlyUnmounted(mnt: string): Promise<void> {
    assert.is(await findMount(mnt), undefined, 'still mounted')
    assert.not.ok(await isStaleMount(mnt), 'stale mount left behind')
    assert.ok((await stat(mnt)).isDirectory())
  }

  it('reads through a CLI mount match; metrics are served; SIGTERM unmounts cleanly and exits 0', async () => {
    const mnt = await newMountpoint()
    const cache = await tempDir('cli-mount-cache')
    fx.dirs.push(cache)
    const { daemon, metricsUrl } = await startMount(mnt, ['--cache-dir', cache, '--memory', '64MiB', '--metrics-port', '0', '--metadata-ttl', '5m'])
    await shaThroughMount(mnt)
    const py = await run('python3', ['-c', 'import os,sys; print(sorted(os.listdir(sys.argv[1])))', join(mnt, 'train')])
    assert.is(py.stdout.trim(), "['shard-0.bin', 'shard-1.bin', 'shard-2.bin', 'shard-3.bin', 'sub']")
    const text = await (await fetch(metricsUrl!)).text()
    assert.ok(metric(text, 'sluice_fuse_read_bytes_total') > 7_000_000)
    assert.ok(metric(text, 'sluice_source_requests_total', 'kind="get"') > 0)
    assert.ok(metric(text, 'sluice_cache_misses_total', 'tier="disk"') >= 0)
    assert.is(metric(text, 'sluice_fuse_open_files'), 0)
    daemon.kill('SIGTERM')
    const exit = await daemon.exited
    assert.is(exit.code, 0, daemon.stderrLines.join('\n'))
    assert.ok(daemon.stderrLines.some((l) => /unmounted; cache flushed/.test(l)))
    await assertCleanlyUnmounted(mnt)
  })

  it('the mount shares the cache with another process: after a preload, reads make no GETs', async () => {
    const cache = await tempDir('cli-shared-cache')
    fx.dirs.push(cache)
    const other = new BlockReader({ cacheDir: cache, memory: { maxBytes: 0 }, s3: fx.dataset!.server.s3 })
    try {
      const result = await other.preload(['s3://sluice/ds/'])
      assert.ok(result.complete)
      // `other` stays open while the mount (another process) uses the same LMDB files.
      const mnt = await newMountpoint()
      const { daemon, metricsUrl } = await startMount(mnt, ['--cache-dir', cache, '--metrics-port', '0'])
      await shaThroughMount(mnt)
      const text = await (await fetch(metricsUrl!)).text()
      assert.is(metric(text, 'sluice_source_requests_total', 'kind="get"'), 0)
      assert.ok(metric(text, 'sluice_cache_hits_total', 'tier="disk"') > 0)
      daemon.kill('SIGINT')
      assert.is((await daemon.exited).code, 0)
      await assertCleanlyUnmounted(mnt)
    } finally {
      await other.close()
    }
  })

  it('sluice unmount stops a running mount (the daemon exits 0)', async () => {
    const mnt = await newMountpoint()
    const { daemon } = await startMount(mnt, ['--metadata-ttl', '1m'])
    const r = await sluice(fx.dataset, ['unmount', mnt])
    assert.is(r.code, 0, r.stderr)
    assert.is(r.stdout, `unmounted ${mnt}\n`)
    assert.is((await daemon.exited).code, 0)
    await assertCleanlyUnmounted(mnt)
    const again = await sluice(fx.dataset, ['unmount', mnt])
    assert.is(again.code, 6)
    assert.match(again.stderr, /is not mounted/)
  })


  // The fallback lands on fuse-native, so it is checked where fuse-native can mount.
  if (backend === 'fuse-native') {
    it('without the libfuse 3 addon, the default backend falls back to fuse-native and prints why; --fuse-backend libfuse3 refuses', async () => {
      const env = { ...fx.dataset!.env, SLUICE_FUSE3_ADDON: '/nonexistent/sluice_fuse3.node' }
      const mnt = await newMountpoint()
      const daemon = spawnLong(process.execPath, [SLUICE_BIN, 'mount', 's3://sluice/ds', mnt], env)
      fx.daemons.push(daemon)
      const mounted = await daemon.waitForLine(/^mounted s3:\/\/sluice\/ds\/ at /)
      assert.match(mounted, /, fuse-native\)$/)
      const why = daemon.stderrLines.filter((l) => l.includes('libfuse 3 backend unavailable'))
      assert.is(why.length, 1, daemon.stderrLines.join('\n'))
      assert.match(why[0]!, /\(the addon \/nonexistent\/sluice_fuse3\.node was not built .*\); using fuse-native \(libfuse 2\)$/)
      await shaThroughMount(mnt)
      daemon.kill('SIGTERM')
      assert.is((await daemon.exited).code, 0, daemon.stderrLines.join('\n'))
      await assertCleanlyUnmounted(mnt)
      const forced = await run(process.execPath, [SLUICE_BIN, 'mount', 's3://sluice/ds', mnt, '--fuse-backend', 'libfuse3'], { env })
      assert.is(forced.code, 6)
      assert.match(forced.stderr, /the libfuse 3 backend is not available: the addon \/nonexistent\/sluice_fuse3\.node was not built/)
      assert.is(await findMount(mnt), undefined)
      const bad = await sluice(fx.dataset, ['mount', 's3://sluice/ds', mnt, '--fuse-backend', 'fuse2'])
      assert.is(bad.code, 2)
      assert.match(bad.stderr, /--fuse-backend must be one of auto, libfuse3, fuse-native, got "fuse2"/)
    })
  }

  it('a stale mount left by SIGKILL is reported with the command that clears it', async () => {
    const mnt = await newMountpoint()
    const { daemon } = await startMount(mnt)
    daemon.kill('SIGKILL')
    await daemon.exited
    assert.ok(await isStaleMount(mnt))
    const r = await sluice(fx.dataset, ['mount', 's3://sluice/ds', mnt, '--fuse-backend', backend])
    assert.is(r.code, 6)
    assert.ok(r.stderr.includes(`stale FUSE mount`) && r.stderr.includes(`fusermount -u ${mnt}`), r.stderr)
    assert.is(r.stderr.trim().split('\n').length, 1)
    const cleared = await sluice(fx.dataset, ['unmount', mnt])
    assert.is(cleared.code, 0, cleared.stderr)
    await assertCleanlyUnmounted(mnt)
  })

  it('busy, non-empty and missing mountpoints and bad URLs give clear errors', async () => {
    const mnt = await newMountpoint()
    const { daemon } = await startMount(mnt)
    try {
      const busy = await sluice(fx.dataset, ['mount', 's3://sluice/ds', mnt, '--fuse-backend', backend])
      assert.is(busy.code, 6)
      assert.match(busy.stderr, /is already a mount point .*sluice unmount/)
    } finally {
      daemon.kill('SIGTERM')
      await daemon.exited
    }
    const full = await newMountpoint()
    await writeFile(join(full, 'x'), 'x')
    const nonEmpty = await sluice(fx.dataset, ['mount', 's3://sluice/ds', full, '--fuse-backend', backend])
    assert.is(nonEmpty.code, 6)
    assert.match(nonEmpty.stderr, /is not empty/)
    const missing = await sluice(fx.dataset, ['mount', 's3://sluice/ds', join(full, 'nope'), '--fuse-backend', backend])
    assert.is(missing.code, 6)
    assert.match(missing.stderr, /does not exist; create it first: mkdir -p /)
    const empty = await newMountpoint()
    await mkdir(empty, { recursive: true })
    const badUrl = await sluice(fx.dataset, ['mount', 'bucket/train', empty, '--fuse-backend', backend])
    assert.is(badUrl.code, 2)
    assert.match(badUrl.stderr, /invalid object URL/)
    const noBucket = await sluice(fx.dataset, ['mount', 's3://no-such-bucket/train', empty, '--fuse-backend', backend])
    assert.is(noBucket.code, 3)
    assert.match(noBucket.stderr, /bucket "no-such-bucket" does not exist/)
    assert.is(await findMount(empty), undefined)
  })
})
