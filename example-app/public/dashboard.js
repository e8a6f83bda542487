/* global EventSource -- the browser's */
// Dashboard client: keeps the pool samples streamed by <base>/events and draws them as inline SVG,
// sized to the page (readable from 390 px wide up). Plain browser JavaScript, no build step, no
// external resources.
(function () {
  'use strict'
  const PAD = { left: 40, right: 10, top: 18, bottom: 26 }
  const MIN_WINDOW_MS = 10 * 1000
  const TIME_STEPS_MS = [5000, 10000, 15000, 30000, 60000, 120000, 300000]
  const MIN_TICK_GAP_PX = 64
  // The failure reasons, in the order of the executors table's columns.
  const REASONS = ['timedOut', 'queueFull', 'displaced', 'shed', 'aborted', 'errored', 'crashed']
  const base = new URL('.', document.currentScript.src)
  const $ = (id) => document.getElementById(id)

  let samples = []
  let historyMs = 5 * 60 * 1000

  function setText (id, value) { $(id).textContent = String(value) }

  function formatSpan (ms) {
    const seconds = Math.round(ms / 1000)
    return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`
  }

  /** The peak of a sample: the highest queue depth since the one before (older samples: queued). */
  const peakOf = (sample) => Math.max(sample.queued, sample.queuedPeak ?? 0)

  /** Integer ticks for a task count: a step of 1, 2 or 5 × 10^k, at most about 5 ticks. */
  function integerTicks (max) {
    const raw = Math.max(1, max) / 4
    const magnitude = 10 ** Math.floor(Math.log10(raw))
    const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw))
    const top = Math.max(step, Math.ceil(max / step) * step)
    const ticks = []
    for (let value = 0; value <= top; value += step) ticks.push(value)
    return { top, ticks }
  }

  function renderCards (latest, visible) {
    // What the probe answers (the readiness HAProxy sees); the pool's own state if there is no probe.
    const state = String(latest.probe ?? (latest.busy ? 'busy' : 'free'))
    const badge = $('state')
    badge.textContent = state
    badge.className = state.toLowerCase().replace(/[^a-z-]/g, '')
    document.body.dataset.state = state
    // Why, as the agent tells HAProxy (`#busy: pool`, `#not-ready: db`); nothing when free.
    setText('reason', latest.reason ?? '')
    setText('queued', latest.queued)
    setText('peak', Math.max(0, ...visible.map(peakOf)))
    setText('threads', latest.threads)
    setText('idle', latest.idleThreads)
    setText('running', latest.running)
    setText('completed', latest.completed)
    setText('failed', latest.failed)
    for (const reason of REASONS) {
      const row = document.querySelector(`#reasons [data-reason="${reason}"]`)
      row.lastElementChild.textContent = String(latest.failures?.[reason] ?? 0)
    }
    setText('to-busy', latest.transitions.busy)
    setText('to-free', latest.transitions.free)
  }

  /** One row per executor: the pool, then each lane. */
  function renderExecutors (executors) {
    if (executors === undefined || executors.length === 0) return
    $('executors').replaceChildren(...executors.map((executor) => {
      const row = document.createElement('tr')
      row.dataset.executor = executor.name
      const name = document.createElement('td')
      name.textContent = executor.affectsProbe === false ? `${executor.name} (not in the probe)` : executor.name
      const state = document.createElement('td')
      const badge = document.createElement('span')
      badge.className = `badge ${executor.state}`
      badge.textContent = executor.state
      state.append(badge)
      row.append(name, state)
      const numbers = [executor.queued, executor.running, executor.concurrency, ...REASONS.map((reason) => executor.failures[reason] ?? 0)]
      const keys = ['queued', 'running', 'concurrency', ...REASONS]
      numbers.forEach((value, index) => {
        const cell = document.createElement('td')
        cell.className = 'num'
        cell.dataset.field = keys[index]
        cell.textContent = String(value)
        row.append(cell)
      })
      return row
    }))
  }

  const pair = (value) => value === undefined ? '' : `${value.server}/${value.backend}`

  function renderHaproxy (states) {
    if (states.length === 0) return
    $('haproxy').replaceChildren(...states.map((state) => {
      const row = document.createElement('tr')
      const cells = [
        state.node === '' ? '(none)' : state.node,
        state.name ?? '',
        state.state,
        state.checks === undefined ? '' : `${state.checks.count}/${state.checks.of}`,
        pair(state.weight),
        pair(state.scur),
        state.qcur ?? '',
        `${Math.max(0, Math.round((Date.now() - state.seenAt) / 1000))} s ago`
      ]
      for (const value of cells) {
        const cell = document.createElement('td')
        cell.textContent = String(value)
        row.append(cell)
      }
      return row
    }))
  }

  function renderChart (now, series, start, span) {
    const container = $('chart')
    const width = Math.max(280, Math.round(container.clientWidth || 1000))
    const height = width < 600 ? 220 : 280
    const { top, ticks } = integerTicks(Math.max(0, ...series.map((sample) => Math.max(peakOf(sample), sample.running))))
    const plotWidth = width - PAD.left - PAD.right
    const plotHeight = height - PAD.top - PAD.bottom
    const x = (t) => (PAD.left + ((t - start) / span) * plotWidth).toFixed(1)
    const y = (value) => (PAD.top + plotHeight - (value / top) * plotHeight).toFixed(1)
    const parts = []

    // Grid and axes: whole task counts only.
    for (const value of ticks) {
      parts.push(`<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e7eb"/>`)
      parts.push(`<text class="y-tick" x="${PAD.left - 6}" y="${Number(y(value)) + 4}" text-anchor="end" font-size="11" fill="#6b7280">${value}</text>`)
    }
    const tickStep = TIME_STEPS_MS.find((step) => (step / span) * plotWidth >= MIN_TICK_GAP_PX) ?? TIME_STEPS_MS[TIME_STEPS_MS.length - 1]
    for (let back = 0; back <= span; back += tickStep) {
      const tx = x(now - back)
      parts.push(`<line x1="${tx}" x2="${tx}" y1="${PAD.top}" y2="${height - PAD.bottom}" stroke="#f0f1f3"/>`)
      parts.push(`<text x="${tx}" y="${height - 8}" text-anchor="${back === span ? 'start' : 'middle'}" font-size="11" fill="#6b7280">${back === 0 ? 'now' : `−${formatSpan(back)}`}</text>`)
    }

    // Busy bands: from each sample that says busy to the next sample (or now).
    series.forEach((sample, index) => {
      if (!sample.busy) return
      const end = index + 1 < series.length ? series[index + 1].t : now
      parts.push(`<rect x="${x(sample.t)}" y="${PAD.top}" width="${Math.max(1, x(end) - x(sample.t)).toFixed(1)}" height="${plotHeight}" fill="rgba(214,69,69,.16)"/>`)
    })

    if (series.length > 0) {
      // The queue: over each interval between two samples, the peak the later one reports (so a
      // burst between samples is drawn), then the depth at that sample until the next interval.
      let queuePath = `M${x(series[0].t)},${y(series[0].queued)}`
      for (let i = 1; i < series.length; i++) {
        queuePath += `V${y(peakOf(series[i]))}H${x(series[i].t)}V${y(series[i].queued)}`
      }
      queuePath += `H${x(now)}`
      parts.push(`<path d="${queuePath}V${y(0)}H${x(series[0].t)}Z" fill="rgba(59,111,216,.18)"/>`)
      parts.push(`<path class="queue" d="${queuePath}" fill="none" stroke="#3b6fd8" stroke-width="2"/>`)
      // Running tasks: a value holds until the next sample.
      let runningPath = `M${x(series[0].t)},${y(series[0].running)}`
      for (let i = 1; i < series.length; i++) runningPath += `H${x(series[i].t)}V${y(series[i].running)}`
      parts.push(`<path d="${runningPath}H${x(now)}" fill="none" stroke="#8a8f98" stroke-width="1.5" stroke-dasharray="4 3"/>`)
    }

    // Transition markers along the top edge.
    for (const sample of series) {
      if (sample.kind !== 'busy' && sample.kind !== 'free') continue
      const mx = Number(x(sample.t))
      const color = sample.kind === 'busy' ? '#d64545' : '#2f9e61'
      parts.push(`<line x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${height - PAD.bottom}" stroke="${color}" stroke-width="1" stroke-opacity=".5"/>`)
      parts.push(`<path d="M${mx - 5},${PAD.top - 10}h10l-5,8z" fill="${color}"/>`)
    }
    parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#d1d5db"/>`)

    container.innerHTML = `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="queue depth over time">${parts.join('')}</svg>`
  }

  function render () {
    const now = Date.now()
    samples = samples.filter((sample) => sample.t >= now - historyMs)
    const first = samples.length > 0 ? samples[0].t : now
    const span = Math.min(historyMs, Math.max(MIN_WINDOW_MS, now - first + 2000))
    const start = now - span
    const visible = samples.filter((sample) => sample.t >= start)
    const before = samples.filter((sample) => sample.t < start).pop()
    const series = before === undefined ? visible : [{ ...before, t: start }, ...visible]
    if (samples.length > 0) {
      const latest = samples[samples.length - 1]
      renderCards(latest, visible)
      renderExecutors(latest.executors)
      renderHaproxy(latest.haproxy ?? [])
    }
    renderChart(now, series, start, span)
    setText('window', formatSpan(span))
    setText('sample-count', `${samples.length} samples kept.`)
  }

  const connection = $('connection')
  const source = new EventSource(new URL('events', base))
  source.addEventListener('open', () => { connection.textContent = 'live'; connection.className = 'live' })
  source.addEventListener('error', () => { connection.textContent = 'reconnecting…'; connection.className = 'lost' })
  source.addEventListener('history', (event) => {
    const data = JSON.parse(event.data)
    historyMs = data.historyMs
    samples = data.samples
    setText('interval', data.intervalMs)
    render()
  })
  source.addEventListener('sample', (event) => {
    samples.push(JSON.parse(event.data))
    render()
  })
  window.addEventListener('resize', render)
  // Redraw once a second so the time axis keeps moving between samples.
  setInterval(render, 1000)
  render()
})()
