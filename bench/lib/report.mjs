// The benchmark's table: fixed-width text for the terminal, Markdown for the README fragment.

const COLUMNS = [['id', '#'], ['what', 'figure'], ['measured', 'measured'], ['target', 'target'], ['result', 'result']]

export function renderTable (rows, notes) {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((row) => String(row[key]).length)))
  const line = (cells) => cells.map((cell, index) => String(cell).padEnd(widths[index])).join('  ')
  return [
    line(COLUMNS.map(([, title]) => title)),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map((row) => line(COLUMNS.map(([key]) => row[key]))),
    ...(notes.length > 0 ? ['', ...notes.map((note) => `note: ${note}`)] : [])
  ].join('\n')
}

const escapeCell = (value) => String(value).replaceAll('|', '\\|')

export function renderMarkdown (rows, notes, machine, mode) {
  return [
    `Measured ${machine.date.slice(0, 10)} (${mode} run) on ${machine.cores} × ${machine.cpuModel}, ` +
      `${machine.memoryGB} GB, ${machine.os}, Node ${machine.node}; load average at start ${machine.loadAverageAtStart.join(' ')}.`,
    '',
    `| ${COLUMNS.map(([, title]) => title).join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${COLUMNS.map(([key]) => escapeCell(row[key])).join(' | ')} |`),
    ...(notes.length > 0 ? ['', ...notes.map((note) => `- ${note}`)] : [])
  ].join('\n')
}
