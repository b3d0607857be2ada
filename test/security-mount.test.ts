/**
 * The mount is private to the mounting user unless `--allow-other` is given: the kernel's
 * mount table shows `allow_other` only when asked for. Checked on real CLI mounts through
 * /proc/self/mounts, on each binding. Skips (saying why) without /dev/fuse or the binding.
 */
import { readFile, rm } from 'node:fs/promises'
import * as assert from 'uvu/assert'
import { forEachBackend, tempMountpoint } from './support/fuse-env.js'
import { cliFixture, sluiceLong } from './support/fuse-dataset.js'

await forEachBackend('security-mount', ({ backend, it, suite: test, skip }) => {
  const fx = cliFixture(test, skip)

  /** The mount options the kernel reports for `mnt`. */
  async function mountOptions(mnt: string): Promise<string[]> {
    const line = (await readFile('/proc/self/mounts', 'utf8')).split('\n').find((l) => l.split(' ')[1] === mnt)
    assert.ok(line, `${mnt} is not in /proc/self/mounts`)
    return line!.split(' ')[3]!.split(',')
  }

  for (const [name, extra, expectOther] of [
    ['private by default', [] as string[], false],
    ['shared with other users only with --allow-other', ['--allow-other'], true],
  ] as const) {
    it(`the mount is ${name}`, async () => {
      const mnt = await tempMountpoint('security-mount')
      fx.mountpoints.push(mnt)
      const daemon = sluiceLong(fx.dataset!, ['mount', 's3://sluice/ds', mnt, '--fuse-backend', backend, ...extra])
      fx.daemons.push(daemon)
      await daemon.waitForLine(/^mounted s3:\/\/sluice\/ds\/ at /)
      const options = await mountOptions(mnt)
      assert.is(options.includes('allow_other'), expectOther, `mount options: ${options.join(',')}`)
      assert.ok(options.includes('ro'), 'read-only')
      daemon.kill('SIGTERM')
      await daemon.exited
      await rm(mnt, { recursive: true, force: true }).catch(() => {})
    })
  }
})
