// The in-process throughput loop of B5 and B8: each variant is a function that starts one call and
// returns its promise. Each round drives `count` calls through every variant in turn with at most
// `window` in flight; rounds alternate the order (A B, B A, ...) and every batch starts after a
// full GC (the fixture runs with --expose-gc), so neither variant pays for the other's garbage or
// gains from going first. A half-size batch of each warms the JIT first.

/**
 * @param {Record<string, () => Promise<unknown>>} variants
 * @param {{ rounds: number, count: number, window: number }} plan
 * @returns {Promise<Record<string, number[]>>} calls per second, per variant, per round
 */
export async function alternateRounds (variants, { rounds, count, window }) {
  for (const run of Object.values(variants)) await drive(run, Math.ceil(count / 2), window)
  const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? Object.keys(variants) : Object.keys(variants).reverse()
    for (const name of order) {
      globalThis.gc()
      results[name].push(await drive(variants[name], count, window))
    }
  }
  return results
}

/** Runs `count` calls with at most `inFlight` pending; resolves with calls per second. */
function drive (run, count, inFlight) {
  return new Promise((resolve, reject) => {
    let submitted = 0
    let settled = 0
    const started = process.hrtime.bigint()
    function onSettled () {
      settled++
      if (settled === count) resolve(count / (Number(process.hrtime.bigint() - started) / 1e9))
      else submit()
    }
    function submit () {
      while (submitted < count && submitted - settled < inFlight) {
        submitted++
        run().then(onSettled, reject)
      }
    }
    submit()
  })
}
