/**
 * The kernel read-ahead of a mount. Linux starts every FUSE mount with 128 KiB of read-ahead,
 * and libfuse 2 caps each read request at 128 KiB, so a sequential reader has about one
 * request in flight and the mount runs at the speed of one round trip through the daemon.
 * Raising the backing device's `read_ahead_kb` lets the kernel keep several requests in
 * flight, which the daemon answers concurrently. Best effort: it needs write access to
 * /sys/class/bdi (root); without it the mount works, only slower, and says so once.
 */
import { stat, writeFile } from 'node:fs/promises'

/** The bdi name (`major:minor`) of the file system mounted at `mountpoint`. */
async function bdiOf(mountpoint: string): Promise<string> {
  // Asynchronous on purpose: this stat is answered by this very process's FUSE operations.
  const { dev } = await stat(mountpoint)
  const major = ((dev >>> 8) & 0xfff) | Math.floor(dev / 2 ** 32) & ~0xfff
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00)
  return `${major}:${minor}`
}

/** Sets the mount's read-ahead to `bytes` (rounded to KiB); resolves to an error message or undefined. */
export async function setReadAhead(mountpoint: string, bytes: number): Promise<string | undefined> {
  try {
    const bdi = await bdiOf(mountpoint)
    await writeFile(`/sys/class/bdi/${bdi}/read_ahead_kb`, String(Math.max(4, Math.round(bytes / 1024))))
    return undefined
  } catch (err) {
    return `could not raise the kernel read-ahead of ${mountpoint} (${(err as Error).message}); sequential reads through the mount will be slower`
  }
}
