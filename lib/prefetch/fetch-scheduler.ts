/**
 * Orders fetches: at most `maxConcurrent` requests at once, demand before prefetch, and a
 * queued prefetch that a reader starts waiting for is promoted to demand. One slot is kept
 * free of prefetch so a demand read never queues behind a full window of speculation.
 */

export type Priority = 'demand' | 'prefetch'

interface Task {
  priority: Priority
  run: () => void
}

export interface ScheduledTask {
  /** Moves a still-queued task to demand priority. */
  promote(): void
}

export class FetchScheduler {
  private active = 0
  private activePrefetch = 0
  private readonly queue: Task[] = []

  constructor(readonly maxConcurrent: number) {}

  schedule<T>(priority: Priority, fn: () => Promise<T>): { promise: Promise<T>; task: ScheduledTask } {
    let task!: Task
    const promise = new Promise<T>((resolve, reject) => {
      task = {
        priority,
        run: () => {
          const wasPrefetch = task.priority === 'prefetch'
          this.active++
          if (wasPrefetch) this.activePrefetch++
          fn()
            .then(resolve, reject)
            .finally(() => {
              this.active--
              if (wasPrefetch) this.activePrefetch--
              this.pump()
            })
        },
      }
    })
    this.queue.push(task)
    this.pump()
    return {
      promise,
      task: {
        promote: () => {
          if (task.priority === 'demand') return
          task.priority = 'demand'
          this.pump()
        },
      },
    }
  }

  get queued(): number {
    return this.queue.length
  }

  private pump(): void {
    while (this.active < this.maxConcurrent && this.queue.length > 0) {
      let i = this.queue.findIndex((t) => t.priority === 'demand')
      if (i < 0) {
        // One slot stays free for demand; with a single slot, prefetch waits until it is idle.
        if (this.maxConcurrent === 1 ? this.active > 0 : this.activePrefetch >= this.maxConcurrent - 1) return
        i = 0
      }
      const [task] = this.queue.splice(i, 1)
      task!.run()
    }
  }
}
