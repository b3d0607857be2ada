/**
 * The one rule for turning missing blocks into fetches, shared by demand reads, prefetch and
 * preload: consecutive missing blocks become one run (one task, one ranged GET), at most
 * `maxRun` blocks long, so a cold sequential read costs few large requests and a scattered
 * one costs no more requests than it has gaps. Pure: the caller says which blocks are
 * missing (and may note the others as it is asked).
 */

/** A run of blocks: `[first, first + count)`. */
export type BlockRun = readonly [first: number, count: number]

/**
 * The runs of blocks in `[first, last]` for which `missing(i)` is true, in ascending order,
 * each at most `maxRun` blocks. `missing` is called once per block, in order.
 */
export function missingRuns(first: number, last: number, maxRun: number, missing: (i: number) => boolean): BlockRun[] {
  const runs: [number, number][] = []
  const cap = Math.max(1, maxRun)
  let open: [number, number] | undefined
  for (let i = first; i <= last; i++) {
    if (!missing(i)) {
      open = undefined
      continue
    }
    if (open === undefined || open[1] >= cap) runs.push((open = [i, 0]))
    open[1]++
  }
  return runs
}
