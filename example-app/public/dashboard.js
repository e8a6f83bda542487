// Dashboard client: keeps the pool samples streamed by <base>/events and draws them as inline SVG.
// Plain browser JavaScript, no build step, no external resources.
(function () {
  'use strict'
  const SVG_WIDTH = 1000
  const SVG_HEIGHT = 280
  const PAD = { left: 44, right: 12, top: 18, bottom: 26 }
  const MIN_WINDOW_MS = 10 * 1000
  const base = new URL('.', document.currentScript.src)
  const $ = (id) => document.getElementById(id)

  let samples = []
  let historyMs = 5 * 60 * 1000

  function setText (id, value) { $(id).textContent = String(value) }

  function formatSpan (ms) {
    const seconds = Math.round(ms / 1000)
    return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`
  }

  function niceMax (value) {
    if (value <= 4) return 4
    const magnitude = 10 ** Math.floor(Math.log10(value))
    for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude
    return value
  }

  function renderCards (latest) {
    // The probe's own verdict (busy, draining or down all fail HAProxy's check); the pool's if absent.
    const state = latest.probe ?? (latest.busy ? 'busy' : 'free')
    const badge = $('state')
    badge.textContent = state
    badge.className = state
    document.body.dataset.state = state
    setText('queued', latest.queued)
    setText('threads', latest.threads)
    setText('idle', latest.idleThreads)
    setText('running', latest.running)
    setText('completed', latest.completed)
    setText('failed', latest.failed)
    setText('to-busy', latest.transitions.busy)
    setText('to-free', latest.transitions.free)
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

  function renderChart (now) {
    const first = samples.length > 0 ? samples[0].t : now
    const span = Math.min(historyMs, Math.max(MIN_WINDOW_MS, now - first + 2000))
    const start = now - span
    const visible = samples.filter((sample) => sample.t >= start)
    const before = samples.filter((sample) => sample.t < start).pop()
    const series = before === undefined ? visible : [{ ...before, t: start }, ...visible]
    const yMax = niceMax(Math.max(1, ...series.map((sample) => Math.max(sample.queued, sample.running))))
    const plotWidth = SVG_WIDTH - PAD.left - PAD.right
    const plotHeight = SVG_HEIGHT - PAD.top - PAD.bottom
    const x = (t) => (PAD.left + ((t - start) / span) * plotWidth).toFixed(1)
    const y = (value) => (PAD.top + plotHeight - (value / yMax) * plotHeight).toFixed(1)
    const parts = []

    // Grid and axes.
    for (let i = 0; i <= 4; i++) {
      const value = (yMax / 4) * i
      parts.push(`<line x1="${PAD.left}" x2="${SVG_WIDTH - PAD.right}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e7eb"/>`)
      parts.push(`<text x="${PAD.left - 6}" y="${Number(y(value)) + 4}" text-anchor="end" font-size="11" fill="#6b7280">${Number.isInteger(value) ? value : value.toFixed(1)}</text>`)
    }
    const tickStep = span > 120000 ? 60000 : span > 60000 ? 15000 : 5000
    for (let back = 0; back <= span; back += tickStep) {
      const tx = x(now - back)
      parts.push(`<line x1="${tx}" x2="${tx}" y1="${PAD.top}" y2="${SVG_HEIGHT - PAD.bottom}" stroke="#f0f1f3"/>`)
      parts.push(`<text x="${tx}" y="${SVG_HEIGHT - 8}" text-anchor="middle" font-size="11" fill="#6b7280">${back === 0 ? 'now' : `−${formatSpan(back)}`}</text>`)
    }

    // Busy bands: from each sample that says busy to the next sample (or now).
    series.forEach((sample, index) => {
      if (!sample.busy) return
      const end = index + 1 < series.length ? series[index + 1].t : now
      parts.push(`<rect x="${x(sample.t)}" y="${PAD.top}" width="${Math.max(1, x(end) - x(sample.t)).toFixed(1)}" height="${plotHeight}" fill="rgba(214,69,69,.16)"/>`)
    })

    // Step lines: a value holds until the next sample.
    const step = (key) => {
      if (series.length === 0) return ''
      let path = `M${x(series[0].t)},${y(series[0][key])}`
      for (let i = 1; i < series.length; i++) path += `H${x(series[i].t)}V${y(series[i][key])}`
      return `${path}H${x(now)}`
    }
    if (series.length > 0) {
      const queuePath = step('queued')
      parts.push(`<path d="${queuePath}V${y(0)}H${x(series[0].t)}Z" fill="rgba(59,111,216,.18)"/>`)
      parts.push(`<path d="${queuePath}" fill="none" stroke="#3b6fd8" stroke-width="2"/>`)
      parts.push(`<path d="${step('running')}" fill="none" stroke="#8a8f98" stroke-width="1.5" stroke-dasharray="4 3"/>`)
    }

    // Transition markers along the top edge.
    for (const sample of visible) {
      if (sample.kind !== 'busy' && sample.kind !== 'free') continue
      const mx = Number(x(sample.t))
      const color = sample.kind === 'busy' ? '#d64545' : '#2f9e61'
      parts.push(`<line x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${SVG_HEIGHT - PAD.bottom}" stroke="${color}" stroke-width="1" stroke-opacity=".5"/>`)
      parts.push(`<path d="M${mx - 5},${PAD.top - 10}h10l-5,8z" fill="${color}"/>`)
    }
    parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#d1d5db"/>`)

    $('chart').innerHTML = `<svg viewBox="0 0 ${SVG_WIDTH} ${SVG_HEIGHT}" preserveAspectRatio="none" role="img" aria-label="queue depth over time">${parts.join('')}</svg>`
    setText('window', formatSpan(span))
    setText('sample-count', `${samples.length} samples kept.`)
  }

  function render () {
    const now = Date.now()
    samples = samples.filter((sample) => sample.t >= now - historyMs)
    if (samples.length > 0) {
      const latest = samples[samples.length - 1]
      renderCards(latest)
      renderHaproxy(latest.haproxy ?? [])
    }
    renderChart(now)
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
  // Redraw once a second so the time axis keeps moving between samples.
  setInterval(render, 1000)
  render()
})()
