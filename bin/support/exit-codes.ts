/**
 * The CLI's exit codes, in one place, and the mapping from failures to them. Scripts and
 * schedulers branch on these (for example: preload exited 5, so do not start the job), so
 * they are documented in docs/fuse-cli.md and never change meaning.
 */

export const ExitCode = {
  /** Success. */
  OK: 0,
  /** A runtime failure: the store, the cache, or a bug. */
  FAILURE: 1,
  /** Bad command line: unknown command or option, bad size, bad URL. */
  USAGE: 2,
  /** The object, prefix or bucket does not exist. */
  NOT_FOUND: 3,
  /** The store refused the credentials or the request. */
  ACCESS_DENIED: 4,
  /** preload: something asked for is not resident (or, with --dry-run, would not fit). */
  INCOMPLETE: 5,
  /** mount/unmount: FUSE unavailable, mountpoint missing, busy, not empty, stale or not mounted. */
  MOUNT: 6,
  /** Interrupted by SIGINT/SIGTERM before finishing (not used by mount, which exits 0 after unmounting). */
  INTERRUPTED: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** A command-line mistake: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

const BY_CODE: Record<string, ExitCodeValue> = {
  ERR_SLUICE_INVALID_URL: ExitCode.USAGE,
  ERR_SLUICE_UNSUPPORTED_SCHEME: ExitCode.USAGE,
  ERR_SLUICE_NOT_FOUND: ExitCode.NOT_FOUND,
  ERR_SLUICE_BUCKET_NOT_FOUND: ExitCode.NOT_FOUND,
  ERR_SLUICE_ACCESS_DENIED: ExitCode.ACCESS_DENIED,
  ERR_SLUICE_MOUNT: ExitCode.MOUNT,
  ERR_SLUICE_ABORTED: ExitCode.INTERRUPTED,
}

export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof UsageError) return ExitCode.USAGE
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    if (code.startsWith('ERR_PARSE_ARGS_')) return ExitCode.USAGE
    return BY_CODE[code] ?? ExitCode.FAILURE
  }
  return ExitCode.FAILURE
}
