/**
 * How much a property or fuzz test runs. `npm test` runs every seed and every iteration;
 * `npm run test:unit`, the quick loop, sets TEST_UNIT_LOOP=1 and these tests run a subset there:
 * the same runs (same seeds, same sequences), fewer of them, so a failure in the quick loop
 * replays under `npm test`.
 */
export const UNIT_LOOP = process.env.TEST_UNIT_LOOP === '1'

/** `full` under `npm test` (and a bare `npx tap`); `quick` in the unit loop. */
export function runs<T> (full: T, quick: T): T {
  return UNIT_LOOP ? quick : full
}
