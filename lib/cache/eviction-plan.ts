/**
 * What a tier asks of a read plan (lib/plan/) while the reader has one: when a block will be
 * read next, and a tracker of the plan's blocks the tier holds, ordered by that. With it a
 * tier evicts by Belady's rule (the block read furthest ahead goes first, blocks the
 * remaining plan does not read before any) and refuses a fill read later than everything it
 * holds; without a plan it keeps its own policy. The plan lives above the cache, so the
 * tiers see only this interface.
 *
 * Two roles (`PlanRole`). The tier that holds what is resident on the node (the disk tier,
 * else memory) *keeps*: it judges a fill by the block's use after the one it is fetched for,
 * as the offline optimum does at a miss (the read it is fetched for is served from the fetch
 * either way; what matters is whether keeping it afterwards pays). A tier above it (memory
 * over disk) *stages*: it judges a fill by the next use itself, so blocks fetched ahead wait
 * there until they are read even when the keeping tier does not want them afterwards.
 */

export type PlanRole = 'keep' | 'stage'

export interface EvictionPlan {
  /**
   * When the block is read next: a position in the plan (larger is later), or Infinity when
   * the remaining plan does not read it (blocks of objects outside the plan included).
   */
  nextUse(ks: string): number
  /** When it is read after that (Infinity: never): what a keeping tier judges a fill by. */
  useAfterNext(ks: string): number
  /** A new tracker of the plan's blocks one tier holds. */
  residents(): PlannedResidents
}

export interface PlannedResidents {
  /** The tier holds this block now (a block outside the plan is ignored). */
  add(ks: string): void
  /** The tier no longer holds it. */
  delete(ks: string): void
  /**
   * The held block read furthest ahead (those the remaining plan does not read first), or
   * undefined when none is known. `present` confirms the tier still holds it; a block it
   * denies is forgotten and the next one asked.
   */
  furthest(present?: (ks: string) => boolean): { ks: string; nextUse: number } | undefined
  /** Stops tracking: the plan ended or another replaced it. */
  close(): void
}
