/**
 * The cache and store options shared by every command that reads objects, and the one place
 * that turns them into a BlockReader. Unset options are left to the core's defaults, so the
 * CLI and the library agree on them; `SLUICE_CACHE_DIR` supplies `--cache-dir` when absent
 * (several directories separated by commas),
 * `SLUICE_CLUSTER` supplies `--cluster`, `SLUICE_CLUSTER_PASSWORD` the cluster tier's password
 * (kept out of the command line, where every user of the node can read it),
 * `SLUICE_CLUSTER_CA_FILE` the CA of a `rediss://` cluster, and the
 * standard `AWS_*` variables configure the store through the AWS SDK.
 */
import { resolve } from 'node:path'
import { BlockReader, type BlockReaderOptions } from '../../lib/index.js'
import type { CommandContext, OptionSpecs } from './command.js'
import { UsageError } from './exit-codes.js'
import { countOption, sizeOption } from './values.js'

export const CACHE_OPTIONS: OptionSpecs = {
  'cache-dir': {
    type: 'string',
    multiple: true,
    value: 'dir[:size]',
    help: 'Disk tier (LMDB) directory; repeat for several (one per disk), each with its own bound as DIR:SIZE; default $SLUICE_CACHE_DIR (comma-separated), else memory only.',
  },
  memory: { type: 'string', value: 'size', help: 'Memory tier bound, e.g. 2GiB (default 512MiB).' },
  disk: { type: 'string', value: 'size', help: 'Disk tier bound of each cache directory given without :SIZE, e.g. 100GiB (default 10GiB).' },
  'block-size': { type: 'string', value: 'size', help: 'Cache block size (default 4MiB); keep it the same for one cache dir.' },
  threads: { type: 'string', value: 'n', help: 'Fetch worker threads (default 0: fetch on the main thread).' },
  cluster: {
    type: 'string',
    value: 'urls',
    help: 'Cluster tier shared by the nodes: Redis Cluster nodes as comma-separated redis:// or rediss:// URLs (default $SLUICE_CLUSTER; password from $SLUICE_CLUSTER_PASSWORD).',
  },
}

export const STORE_OPTIONS: OptionSpecs = {
  endpoint: { type: 'string', value: 'url', help: 'S3-compatible endpoint (default $AWS_ENDPOINT_URL, else AWS).' },
  region: { type: 'string', value: 'region', help: 'S3 region (default $AWS_REGION, $AWS_DEFAULT_REGION, the AWS profile region, else us-east-1).' },
  'path-style': { type: 'boolean', help: 'Path-style S3 addressing (the default when an endpoint is set).' },
  'virtual-host-style': { type: 'boolean', help: 'Virtual-hosted S3 addressing even with an endpoint.' },
}

/** One cache directory from the command line, with its bound when given as DIR:SIZE. */
export interface CacheDirArg {
  path: string
  maxBytes?: number
}

/**
 * The cache directories from --cache-dir (repeatable) or $SLUICE_CACHE_DIR (comma-separated);
 * empty for memory only (an empty value too, as `ls` passes to stay off the disk tier).
 */
export function cacheDirsOf(ctx: CommandContext): CacheDirArg[] {
  const given = ctx.values['cache-dir'] as string | string[] | undefined
  const env = process.env.SLUICE_CACHE_DIR
  let texts: string[]
  if (given !== undefined) texts = (Array.isArray(given) ? given : [given]).filter((t) => t !== '')
  else if (env === undefined || env.trim() === '') texts = []
  else {
    texts = env.split(',')
    if (texts.some((t) => t.trim() === '')) throw new UsageError('SLUICE_CACHE_DIR: an empty directory in the list (expected DIR[:SIZE][,DIR[:SIZE]...])')
  }
  const dirs = texts.map(parseCacheDir)
  const seen = new Set<string>()
  for (const d of dirs) {
    if (seen.has(resolve(d.path))) throw new UsageError(`--cache-dir: ${d.path} is given twice`)
    seen.add(resolve(d.path))
  }
  return dirs
}

/** `DIR` or `DIR:SIZE`. Only a tail that starts like a size is one: a path may hold ':' elsewhere. */
function parseCacheDir(text: string): CacheDirArg {
  const colon = text.lastIndexOf(':')
  const size = colon > 0 ? text.slice(colon + 1) : ''
  if (!/^\s*\d/.test(size)) return { path: text }
  return { path: text.slice(0, colon), maxBytes: sizeOption(size, 'cache-dir')! }
}

/** The disk tier's options from the cache directories and --disk (the bound of each directory given without one). */
function diskOptions(dirs: CacheDirArg[], disk: number | undefined): Pick<BlockReaderOptions, 'cacheDir' | 'disk'> {
  const [only, ...more] = dirs
  if (only === undefined) return disk === undefined ? {} : { disk: { maxBytes: disk } }
  if (more.length > 0) {
    const each = dirs.map((d) => ({ path: d.path, maxBytes: d.maxBytes ?? disk }))
    return { disk: { dirs: each.map((d) => (d.maxBytes === undefined ? { path: d.path } : { path: d.path, maxBytes: d.maxBytes })) } }
  }
  if (only.maxBytes !== undefined && disk !== undefined) throw new UsageError('--disk and --cache-dir DIR:SIZE both give the bound of the one cache directory; give it once')
  const maxBytes = only.maxBytes ?? disk
  return { cacheDir: only.path, ...(maxBytes === undefined ? {} : { disk: { maxBytes } }) }
}

/** The cluster tier's nodes from --cluster or $SLUICE_CLUSTER; undefined when neither names any. */
export function clusterNodesOf(ctx: CommandContext): string[] | undefined {
  const raw = (ctx.values.cluster as string | undefined) ?? process.env.SLUICE_CLUSTER
  if (raw === undefined || raw.trim() === '') return undefined
  const nodes = raw.split(',').map((n) => n.trim())
  if (nodes.some((n) => n === '')) throw new UsageError('--cluster: an empty node in the list (expected redis://host:port[,redis://host:port...])')
  return nodes
}

export function readerOptionsFrom(ctx: CommandContext): BlockReaderOptions {
  const v = ctx.values
  const options: BlockReaderOptions = {}
  Object.assign(options, diskOptions(cacheDirsOf(ctx), sizeOption(v.disk as string | undefined, 'disk')))
  const memory = sizeOption(v.memory as string | undefined, 'memory')
  if (memory !== undefined) options.memory = { maxBytes: memory }
  const blockSize = sizeOption(v['block-size'] as string | undefined, 'block-size')
  if (blockSize !== undefined) options.blockSize = blockSize
  const threads = countOption(v.threads as string | undefined, 'threads')
  if (threads !== undefined) options.prefetch = { threads }
  if (v['path-style'] && v['virtual-host-style']) throw new UsageError('--path-style and --virtual-host-style exclude each other')
  const s3: NonNullable<BlockReaderOptions['s3']> = {}
  if (typeof v.endpoint === 'string') s3.endpoint = v.endpoint
  if (typeof v.region === 'string') s3.region = v.region
  if (v['path-style']) s3.forcePathStyle = true
  if (v['virtual-host-style']) s3.forcePathStyle = false
  if (Object.keys(s3).length > 0) options.s3 = s3
  const nodes = clusterNodesOf(ctx)
  if (nodes !== undefined) {
    const password = process.env.SLUICE_CLUSTER_PASSWORD
    const caFile = process.env.SLUICE_CLUSTER_CA_FILE
    options.cluster = { nodes, ...(password ? { password } : {}), ...(caFile ? { tlsCaFile: caFile } : {}) }
  }
  return options
}

/** A BlockReader from the command line; option mistakes become usage errors (exit 2). */
export function createReader(
  ctx: CommandContext,
  overrides: { requireCacheDir?: boolean; orCluster?: boolean; diskWriterThread?: boolean; withCluster?: boolean } = {},
): BlockReader {
  const options = readerOptionsFrom(ctx)
  // Commands that only list or inspect this node's cache never connect to the cluster tier.
  if (overrides.withCluster === false) delete options.cluster
  if (overrides.diskWriterThread) options.disk = { ...options.disk, writerThread: true }
  const enough = options.cacheDir !== undefined || options.disk?.dirs !== undefined || (overrides.orCluster === true && options.cluster !== undefined)
  if (overrides.requireCacheDir && !enough) {
    throw new UsageError(`this command needs a cache: pass --cache-dir <dir> or set SLUICE_CACHE_DIR${overrides.orCluster ? ' (or --cluster / SLUICE_CLUSTER to fill the cluster tier)' : ''}`)
  }
  try {
    return new BlockReader(options)
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw new UsageError(err.message)
    throw err
  }
}

/**
 * Waits until the reader's tiers are open (closing it and rethrowing if one cannot be used:
 * a cache directory sluice may not use, a cluster that refuses the password). A cluster tier
 * that could not be reached is said on stderr: the command goes on without it, and the
 * reader connects again in the background.
 */
export async function whenReady(ctx: CommandContext, reader: BlockReader): Promise<void> {
  try {
    await reader.ready()
  } catch (err) {
    await reader.close().catch(() => {})
    throw err
  }
  const cluster = reader.stats().tiers.find((t) => t.name === 'cluster')
  if (cluster !== undefined && !cluster.healthy) ctx.log(`cluster tier unavailable, reading without it until it answers: ${cluster.lastError ?? 'no answer'}`)
}
