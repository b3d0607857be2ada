/**
 * `sluice unmount`: unmount a sluice mount (its daemon then exits 0), or clear a stale one
 * left by a killed daemon. Uses fusermount, so it works for the user who mounted.
 */
import type { Command } from '../support/command.js'

export const unmountCommand: Command = {
  name: 'unmount',
  summary: 'Unmount a mount (also clears a stale one left by a killed process).',
  usage: ['sluice unmount <mountpoint> [--lazy]'],
  description: `
Unmounts <mountpoint> with fusermount -u. The "sluice mount" process serving it notices and
exits cleanly. Also clears a stale mount ("Transport endpoint is not connected") left by a
process that was killed. Fails with exit 6 if files are open under it, unless --lazy.`,
  groups: [{ title: 'Options', options: { lazy: { type: 'boolean', short: 'z', help: 'Detach now even if files are open (fusermount -uz).' } } }],
  examples: ['sluice unmount /mnt/train', 'sluice unmount --lazy /mnt/train'],
  positionals: [1, 1],
  async run(ctx) {
    const { unmount } = await import('../../fuse/index.js')
    const mountpoint = ctx.positionals[0]!
    await unmount(mountpoint, { lazy: ctx.values.lazy === true })
    ctx.stdout.write(`unmounted ${mountpoint}\n`)
    return 0
  },
}
