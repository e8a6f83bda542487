// Type test, checked by `npm run typecheck`: the pool plugin's list of piscina's option names
// (lib/pool/piscina.ts, which refuses any other name) is exactly piscina's own `Options`.
// A piscina upgrade that adds, drops or renames an option fails here until the list says so.
import { PISCINA_OPTION_KEYS, type PiscinaOptions } from '../../lib/pool/piscina.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectTrue<T extends true> (_proof?: T): void {}

expectTrue<Equal<typeof PISCINA_OPTION_KEYS[number], keyof PiscinaOptions>>()
// The list holds no name twice.
type Duplicates<L extends readonly unknown[], Seen = never> = L extends readonly [infer H, ...infer R]
  ? H extends Seen ? H : Duplicates<R, Seen | H>
  : never
expectTrue<Equal<Duplicates<typeof PISCINA_OPTION_KEYS>, never>>()
// And the check itself can fail: a list missing one name is not piscina's.
type Missing = Exclude<typeof PISCINA_OPTION_KEYS[number], 'workerHistogram'>
expectTrue<Equal<Equal<Missing, keyof PiscinaOptions>, false>>()
