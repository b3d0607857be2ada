/**
 * A training job of several ranks for the elastic-resume tests, over shards such as
 * s3-shards.ts writes: each rank of a world runs in turn up to a cut point, its state taken
 * through JSON as a checkpoint would, and the states of the whole world are merged for the
 * next one, as a restarted job does.
 */
import type { BlockReader } from '../../lib/block-reader.js'
import { mergeStates, tfrecords, type TFRecordOptions, type TFRecordState } from '../../loaders/tfrecord/index.js'
import { label } from './tfrecord-shards.js'

export interface RankOptions {
  options?: TFRecordOptions
  /** The partitioning asked for (default auto). */
  mode?: 'auto' | 'files' | 'records'
}

/** Rank `index` of `count` reads up to `cut` records; its labels and its state, through JSON. */
export async function readRank(
  reader: BlockReader,
  source: string,
  { options = {}, mode = 'auto' }: RankOptions,
  index: number,
  count: number,
  cut: number,
  resume?: TFRecordState,
): Promise<{ labels: string[]; state: TFRecordState }> {
  const ds = tfrecords(reader, source, { ...options, shard: { index, count, mode }, resume })
  const labels: string[] = []
  for await (const r of ds) {
    labels.push(label(r))
    if (labels.length >= cut) break
  }
  const state = JSON.parse(JSON.stringify(ds.state())) as TFRecordState
  await ds.close()
  return { labels, state }
}

/**
 * A job that runs at `worlds[0]` ranks, is stopped, resumes at `worlds[1]` ranks from the
 * merged states, and so on; every rank of a world but the last stops at a random cut point
 * (at least one record: a state describes its rank's part once a record was delivered), the
 * last world reads to the end. Returns every record delivered, in the order the job
 * delivered them, and the merged states.
 */
export async function elasticJob(
  reader: BlockReader,
  source: string,
  rank: RankOptions,
  worlds: readonly number[],
  total: number,
  rand: () => number,
): Promise<{ delivered: string[]; merged: TFRecordState[] }> {
  const delivered: string[] = []
  const merged: TFRecordState[] = []
  let resume: TFRecordState | undefined
  for (let g = 0; g < worlds.length; g++) {
    const world = worlds[g]!
    const last = g === worlds.length - 1
    // cut points spread over about a rank's share of what is left, some past its end
    const share = Math.ceil((1.3 * (total - delivered.length)) / world) + 1
    const states: TFRecordState[] = []
    for (let index = 0; index < world; index++) {
      const cut = last ? Number.POSITIVE_INFINITY : 1 + Math.floor(rand() * share)
      const run = await readRank(reader, source, rank, index, world, cut, resume)
      delivered.push(...run.labels)
      states.push(run.state)
    }
    // a job gathers its checkpoints in no particular order
    resume = mergeStates(states.reverse())
    merged.push(resume)
  }
  return { delivered, merged }
}

/** Sorted copy, for multiset comparisons. */
export function sorted(labels: readonly string[]): string[] {
  return [...labels].sort()
}
