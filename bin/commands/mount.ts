/**
 * `sluice mount`: the foreground daemon behind a read-only mount. It wires the command line to
 * a BlockReader and `fuse.mount`, serves metrics if asked, and owns the shutdown order that
 * keeps the cache consistent: unmount first (no new reads), then close the reader (flushes
 * pending disk fills), then exit 0. A second signal exits at once.
 */
import type { FuseBackendChoice } from '../../fuse/index.js'
import { formatBytes } from '../../lib/index.js'
import type { Command } from '../support/command.js'
import { startMetricsServer, type MetricsServer } from '../support/metrics.js'
import { CACHE_OPTIONS, STORE_OPTIONS, createReader, whenReady } from '../support/reader-options.js'
import { durationOption, portOption, sizeOption } from '../support/values.js'
import { ExitCode, UsageError } from '../support/exit-codes.js'

export const mountCommand: Command = {
  name: 'mount',
  summary: 'Mount the objects under a prefix as a read-only directory (foreground).',
  usage: ['sluice mount <url-prefix> <mountpoint> [options]'],
  description: `
Shows the objects under <url-prefix> as files below <mountpoint> (an existing, empty
directory), read-only, with directories from the key hierarchy. Reads go through the block
cache; with --cache-dir the cache is shared with every other sluice process on the node.
A second pass over the files is served by the kernel page cache while objects are unchanged.
The mount runs on sluice's libfuse 3 addon (1 MiB requests) where npm ci could build it and
it can mount (as root, or with fusermount3), else on fuse-native (libfuse 2); it logs which.

Runs in the foreground until SIGINT (Ctrl-C) or SIGTERM, which unmount cleanly and flush the
cache; "sluice unmount <mountpoint>" from another shell does the same. Prints "mounted ..."
on stdout once the mount is usable.`,
  groups: [
    {
      title: 'Mount',
      options: {
        'metadata-ttl': { type: 'string', value: 'duration', help: 'Reuse a listing of the prefix this long (default 60s; e.g. 10s, 5m).' },
        'read-ahead': { type: 'string', value: 'size', help: 'Kernel read-ahead for the mount (default 1MiB; 0 keeps the kernel default of 128KiB).' },
        'allow-other': { type: 'boolean', help: 'Let other users read the mount (needs user_allow_other in /etc/fuse.conf unless root).' },
        'metrics-port': { type: 'string', value: 'port', help: 'Serve Prometheus metrics on this port (0: any free port).' },
        'metrics-host': { type: 'string', value: 'address', help: 'Address for --metrics-port (default 127.0.0.1).' },
        'fuse-debug': { type: 'boolean', help: "Print libfuse's request log on stderr." },
        'fuse-backend': { type: 'string', value: 'name', help: 'auto (default): the libfuse 3 addon where it can run, else fuse-native (libfuse 2), saying why; or libfuse3, or fuse-native.' },
      },
    },
    { title: 'Cache', options: CACHE_OPTIONS },
    { title: 'Store', options: STORE_OPTIONS },
  ],
  examples: [
    'sluice mount s3://bucket/train /mnt/train --cache-dir /var/cache/sluice --memory 2GiB --disk 100GiB',
    'sluice mount s3://bucket/train /mnt/train --cache-dir /nvme0/sluice:500GiB --cache-dir /nvme1/sluice:500GiB',
    'sluice mount s3://bucket/train /mnt/train --metadata-ttl 5m --metrics-port 9464 &',
    'python train.py --data /mnt/train && sluice unmount /mnt/train',
  ],
  positionals: [2, 2],
  async run(ctx) {
    const [prefix, mountpoint] = ctx.positionals as [string, string]
    const metadataTtlMs = durationOption(ctx.values['metadata-ttl'] as string | undefined, 'metadata-ttl')
    const readAheadBytes = sizeOption(ctx.values['read-ahead'] as string | undefined, 'read-ahead')
    const metricsPort = portOption(ctx.values['metrics-port'] as string | undefined, 'metrics-port')
    const backend = (ctx.values['fuse-backend'] as string | undefined) ?? 'auto'
    // Loaded here so that every other command works on machines without libfuse.
    const fuse = await import('../../fuse/index.js')
    if (!fuse.FUSE_BACKENDS.includes(backend as FuseBackendChoice)) {
      throw new UsageError(`--fuse-backend must be one of ${fuse.FUSE_BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`)
    }
    // The daemon answers every FUSE request from its event loop: disk fills go to a thread.
    const reader = createReader(ctx, { diskWriterThread: true })
    await whenReady(ctx, reader)
    let metrics: MetricsServer | undefined
    let m: Awaited<ReturnType<typeof fuse.mount>> | undefined
    try {
      m = await fuse.mount(reader, prefix, mountpoint, {
        allowOther: ctx.values['allow-other'] === true,
        fuseDebug: ctx.values['fuse-debug'] === true,
        backend: backend as FuseBackendChoice,
        log: ctx.log,
        ...(metadataTtlMs === undefined ? {} : { metadataTtlMs }),
        ...(readAheadBytes === undefined ? {} : { readAheadBytes }),
      })
    } catch (err) {
      await reader.close().catch(() => {})
      throw err
    }
    const mounted = m
    if (mounted.skipped.length > 0) {
      ctx.log(`${mounted.skipped.length} key(s) cannot be shown as files, e.g. ${mounted.skipped[0]!.url} (${mounted.skipped[0]!.reason})`)
    }
    try {
      if (metricsPort !== undefined) {
        metrics = await startMetricsServer(metricsPort, (ctx.values['metrics-host'] as string | undefined) ?? '127.0.0.1', {
          reader: () => reader.stats(),
          mount: () => mounted.stats(),
        })
        ctx.log(`metrics on ${metrics.url}`)
      }
    } catch (err) {
      await mounted.unmount().catch(() => {})
      await reader.close().catch(() => {})
      throw err
    }
    const s = mounted.stats()
    ctx.stdout.write(`mounted ${mounted.prefix} at ${mounted.mountpoint} (${s.objectCount} objects, ${formatBytes(s.totalBytes)}, read-only, ${s.backend})\n`)

    const reason = await new Promise<string>((done) => {
      let signalled = false
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) {
          ctx.log(`second ${signal}: exiting without waiting (run: fusermount -u ${mounted.mountpoint} if it stays mounted)`)
          process.exit(ExitCode.FAILURE)
        }
        signalled = true
        done(signal)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      void mounted.gone.then(() => done('unmounted from outside'))
    })
    ctx.log(`${reason}: unmounting ${mounted.mountpoint}`)
    await mounted.unmount()
    await metrics?.close()
    await reader.close()
    ctx.log('unmounted; cache flushed')
    return ExitCode.OK
  },
}
