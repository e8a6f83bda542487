// The options table cannot drift: docs/options.md's table is what scripts/options-table.mjs makes
// from the declarations' JSDoc (path, type, @default, @unit), every option follows the one scheme
// (no unit in a name; ms for durations; seconds only for retryAfter and the histogram buckets),
// piscina's pass-through options are all listed, and the export list of index.ts (values and types)
// is exactly the one below.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import ts from 'typescript'
import { PISCINA_OPTION_KEYS } from '../../lib/pool/piscina.js'
import { REFUSED_PISCINA_OPTIONS } from '../../plugins/pool/options.js'
import { OPTIONS_DOC, loadProgram, optionRows, optionsTable } from '../../scripts/options-table.mjs'

// One TypeScript program of the whole package: several seconds on a loaded machine.
t.setTimeout(300_000)

const rows = optionRows()

t.test('docs/options.md holds the table the declarations make (run `node scripts/options-table.mjs --write`)', async (t) => {
  const markdown = await readFile(OPTIONS_DOC, 'utf8')
  const table = optionsTable(rows)
  t.ok(markdown.includes(table), 'the generated table, as it is')
  t.ok(rows.length > 60, `${rows.length} options`)
})

t.test('one scheme: no unit in a name, every duration in ms, seconds only where a protocol says so', async (t) => {
  for (const row of rows) {
    const name = row.path.split('.').at(-1) as string
    t.notMatch(name, /(Ms|Seconds|Secs?)$/, `${row.path}: no unit suffix`)
    if (/(timeout|Timeout|interval|Interval|^grace$)$/.test(name) || /\.(admission\.target|dwell\.(busy|free))$/.test(row.path)) {
      t.equal(row.unit, 'ms', `${row.path} is a duration in ms`)
    }
    if (row.unit === 'seconds') t.ok(name === 'retryAfter' || name === 'queueWaitBuckets', `${row.path}: seconds only for Retry-After and Prometheus buckets`)
    if (row.unit !== '') t.match(row.description + row.unit, row.unit === 'seconds' ? /[Ss]econds/ : /ms/, `${row.path}: the unit is stated`)
    t.not(row.default, '', `${row.path} has a default`)
  }
})

t.test("every piscina option the pool passes through is listed, and the pool's own override piscina's", async (t) => {
  const listed = new Set(rows.filter((row) => row.path.startsWith('pool.') && row.path.split('.').length === 2).map((row) => row.path.slice(5)))
  for (const key of PISCINA_OPTION_KEYS) {
    if (key in REFUSED_PISCINA_OPTIONS) t.notOk(listed.has(key), `pool.${key}: refused, so not listed`)
    else t.ok(listed.has(key), `pool.${key}`)
  }
  const own = rows.filter((row) => row.path.startsWith('pool.') && !row.piscina).map((row) => row.path.slice(5))
  t.ok(['filename', 'maxQueue', 'closeTimeout', 'stricterFIFO', 'idleTimeout'].every((key) => own.includes(key)), 'declared, with defaults of their own')
})

t.test('the export list of index.ts, values and types, is exactly this', async (t) => {
  const { checker, exports } = loadProgram()
  const values: string[] = []
  const types: string[] = []
  for (const symbol of exports) {
    const target = (symbol.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(symbol) : symbol
    const typeOnly = (symbol.declarations ?? []).some((declaration) => ts.isTypeOnlyExportDeclaration(declaration)) ||
      (target.flags & ts.SymbolFlags.Value) === 0
    ;(typeOnly ? types : values).push(symbol.name)
  }
  t.same(values.sort(), ['RETRYABLE_ERROR_CODES', 'backpressure', 'default', 'errors', 'httpchkPlugin', 'isRetryableError', 'lanesPlugin', 'metricsPlugin', 'poolPlugin'], 'values')
  t.same(types.sort(), [
    'AdaptiveConcurrencyOptions', 'AdmissionOptions', 'BackpressureControl', 'BackpressureMetrics', 'BackpressureOptions', 'BackpressurePool',
    'DwellOptions', 'GraphiteStats', 'HaproxyServerState', 'HttpchkAgentOptions', 'HttpchkDrainOptions', 'HttpchkPluginOptions',
    'Lane', 'LaneEvents', 'LaneOptions', 'LaneRunOptions', 'LaneSnapshot', 'LaneStats', 'LaneTask', 'LanesPluginOptions',
    'MetricsGraphiteOptions', 'MetricsPluginOptions', 'PoolEvents', 'PoolPluginOptions', 'PoolRunOptions', 'PoolSnapshot', 'PoolStats',
    'PriorityFigures', 'PriorityOption', 'ProbeState', 'RetryableError', 'RouteBackpressureConfig'
  ], 'types only')
})
