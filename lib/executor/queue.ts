/**
 * The queue of tasks waiting for a slot, and its whole policy: highest priority first, FIFO within a
 * priority, bounded by `maxQueue`; when full, an arrival of higher priority than the lowest waiting
 * takes the place of the newest task of that priority (`displaceable()`). The engine and admission
 * must never assume an order themselves, so that a change of policy touches this file only.
 * Our own because jobs also leave from the middle (aborted, timed out) and no npm queue offers O(1)
 * removal by handle (yocto-queue; p-queue's priority queue inserts into one sorted array, O(n)).
 */

export interface Queued {
  /** Higher first; FIFO among equals. */
  readonly priority: number
  /** When it was submitted (`performance.now()`); read only by `oldest()`. */
  readonly submittedAt: number
}

/** The jobs of one priority, oldest first, in an array read from a moving head. A job removed from
 * the middle is only marked (`removed`) and skipped when the head reaches it: O(1) removal with no
 * iterator per `next()`, which a `Set` of jobs would need. */
class Level<Job> {
  readonly priority: number
  /** Consumed slots (before `head`) hold undefined. */
  jobs: Array<Job | undefined> = []
  head = 0
  size = 0
  /** Jobs removed from the middle and not yet passed by the head (created on the first such removal). */
  removed: Set<Job> | undefined = undefined

  constructor (priority: number) {
    this.priority = priority
  }
}

export class JobQueue<Job extends Queued> {
  readonly #maxQueue: number
  #size = 0
  /** Levels with jobs, highest priority first (searched by bisection: one per priority waiting). */
  #levels: Array<Level<Job>> = []
  /** The level the last `add()` went to (listed, or emptied since and no other level has its
   * priority): with one priority in use, every add and every delete finds its level here. */
  #last: Level<Job> | undefined

  /** @param maxQueue most jobs that may wait (Infinity: unbounded). */
  constructor (maxQueue: number) {
    this.#maxQueue = maxQueue
  }

  get size (): number {
    return this.#size
  }

  /** True when one more job would exceed `maxQueue`. */
  get full (): boolean {
    return this.#size >= this.#maxQueue
  }

  add (job: Job): void {
    let level = this.#last
    if (level === undefined || level.priority !== job.priority) {
      level = this.#listed(job.priority) ?? new Level<Job>(job.priority)
      this.#last = level
    }
    if (level.size === 0) this.#list(level)
    // Compact here, never in delete(): an iteration (which only deletes) keeps its positions.
    else if (level.head > 1024 && level.head * 2 > level.jobs.length) {
      level.jobs = level.jobs.slice(level.head)
      level.head = 0
    }
    level.jobs.push(job)
    level.size++
    this.#size++
  }

  /** Removes a job wherever it is (started, aborted, timed out, shed, displaced). The job must be
   * queued. A level's last array slot always holds a job still queued (`displaceable()` reads it). */
  delete (job: Job): void {
    const level = this.#levelOf(job.priority)
    this.#size--
    if (--level.size === 0) {
      this.#unlist(level)
      level.jobs = []
      level.head = 0
      level.removed = undefined
      return
    }
    const { jobs } = level
    if (jobs[level.head] === job) {
      jobs[level.head] = undefined
      level.head++
      if (level.removed !== undefined) skipRemoved(level)
    } else if (jobs[jobs.length - 1] === job) {
      // The newest (a displaced job, usually): drop it, and any removed ones it was hiding.
      jobs.pop()
      if (level.removed !== undefined) while (level.removed.delete(jobs[jobs.length - 1] as Job)) jobs.pop()
    } else {
      (level.removed ??= new Set()).add(job)
    }
  }

  /** The job that gets the next free slot. */
  next (): Job | undefined {
    const top = this.#levels[0]
    return top?.jobs[top.head]
  }

  /** The job that has waited longest, whatever its priority (the head of one of the levels). */
  oldest (): Job | undefined {
    let oldest: Job | undefined
    for (const level of this.#levels) {
      const head = level.jobs[level.head] as Job
      if (oldest === undefined || head.submittedAt < oldest.submittedAt) oldest = head
    }
    return oldest
  }

  /** The job of the lowest priority waiting that has waited longest: the first to shed. */
  lowest (): Job | undefined {
    const bottom = this.#levels[this.#levels.length - 1]
    return bottom?.jobs[bottom.head]
  }

  /** When the queue is full, the job an arrival of `priority` takes the place of: the newest job
   * of the lowest priority waiting, if that priority is lower than the arrival's; else undefined
   * (the arrival is refused). */
  displaceable (priority: number): Job | undefined {
    const bottom = this.#levels[this.#levels.length - 1]
    if (bottom === undefined || bottom.priority >= priority) return undefined
    // Never a removed job: delete() pops the newest, and the removed ones behind it.
    return bottom.jobs[bottom.jobs.length - 1]
  }

  /** Jobs waiting at each priority in use, highest first. */
  depths (): Array<[priority: number, size: number]> {
    return this.#levels.map((level) => [level.priority, level.size])
  }

  /** Jobs in the order they get slots. The loop may delete the job it was given (the usual case:
   * it starts, sheds or refuses it) or any other; it must not add. */
  * [Symbol.iterator] (): IterableIterator<Job> {
    // A copy: a level emptied by the loop leaves the array.
    for (const level of [...this.#levels]) {
      for (let i = level.head; i < level.jobs.length; i++) {
        if (i < level.head) i = level.head
        const job = level.jobs[i] as Job
        if (level.removed?.has(job) !== true) yield job
      }
    }
  }

  /** The listed level of `priority`, if any. */
  #listed (priority: number): Level<Job> | undefined {
    const index = this.#search(priority)
    const level = this.#levels[index]
    return level?.priority === priority ? level : undefined
  }

  /** The level of a queued job's priority. */
  #levelOf (priority: number): Level<Job> {
    const last = this.#last as Level<Job>
    // A queued job's level is listed; `#last` of that priority is the one (see `#last`).
    return last.priority === priority ? last : this.#listed(priority) as Level<Job>
  }

  #list (level: Level<Job>): void {
    const levels = this.#levels
    if (levels.length === 0) levels.push(level)
    else levels.splice(this.#search(level.priority), 0, level)
  }

  #unlist (level: Level<Job>): void {
    const levels = this.#levels
    if (levels.length === 1) levels.pop()
    else levels.splice(this.#search(level.priority), 1)
  }

  /** The index of `priority` in the levels (highest first), or where it would go. */
  #search (priority: number): number {
    const levels = this.#levels
    let low = 0
    let high = levels.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((levels[middle] as Level<Job>).priority > priority) low = middle + 1
      else high = middle
    }
    return low
  }
}

function skipRemoved<Job> (level: Level<Job>): void {
  const removed = level.removed as Set<Job>
  while (level.head < level.jobs.length && removed.delete(level.jobs[level.head] as Job)) {
    level.jobs[level.head] = undefined
    level.head++
  }
}
