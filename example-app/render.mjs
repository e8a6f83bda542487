// The example app's "not lean" page renderer, run inside the worker threads: a small mustache-like
// template engine and a small markdown renderer, written here so that the app has no extra
// dependency. It is deliberately wasteful (the template is re-parsed on every render, the data set
// is rebuilt and sorted each time) so that one page costs real CPU, like a real server-side render.
//
// Template syntax: {{path}} (HTML-escaped), {{{path}}} (raw), {{#each path}}…{{/each}} ({{.}} and
// {{@index}} inside), {{#if path}}…{{else}}…{{/if}}. Paths are dotted: {{item.price}}.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value) {
  return String(value ?? '').replace(/[&<>"']/g, (char) => ESCAPES[char])
}

/** Parses a template into a tree of text, variable and block nodes. */
export function parseTemplate (source) {
  const root = { type: 'root', children: [] }
  // Each frame: the open block and the list new nodes go into (its `otherwise` list after {{else}}).
  const stack = [{ node: root, into: root.children }]
  const tag = /\{\{\{\s*([\w.@]+)\s*\}\}\}|\{\{\s*([#/]?)([\w.@]+)(?:\s+([\w.@]+))?\s*\}\}/g
  let last = 0
  for (let match = tag.exec(source); match !== null; match = tag.exec(source)) {
    const frame = stack[stack.length - 1]
    if (match.index > last) frame.into.push({ type: 'text', text: source.slice(last, match.index) })
    last = tag.lastIndex
    const [, raw, sigil, word, argument] = match
    if (raw !== undefined) {
      frame.into.push({ type: 'var', path: raw, raw: true })
    } else if (sigil === '#') {
      const node = { type: word, path: argument, children: [], otherwise: [] }
      frame.into.push(node)
      stack.push({ node, into: node.children })
    } else if (sigil === '/') {
      if (frame.node.type !== word) throw new Error(`template: unexpected {{/${word}}}`)
      stack.pop()
    } else if (word === 'else' && frame.node.type === 'if') {
      frame.into = frame.node.otherwise
    } else {
      frame.into.push({ type: 'var', path: word, raw: false })
    }
  }
  if (stack.length !== 1) throw new Error(`template: unclosed {{#${stack[stack.length - 1].node.type}}}`)
  if (last < source.length) root.children.push({ type: 'text', text: source.slice(last) })
  return root
}

function lookup (scopes, path) {
  if (path === '.') return scopes[0]
  const [head, ...rest] = path.split('.')
  for (const scope of scopes) {
    if (scope !== null && typeof scope === 'object' && head in scope) {
      return rest.reduce((value, key) => value?.[key], scope[head])
    }
  }
  return undefined
}

function renderNodes (nodes, scopes, out) {
  for (const node of nodes) {
    if (node.type === 'text') {
      out.push(node.text)
    } else if (node.type === 'var') {
      const value = lookup(scopes, node.path)
      out.push(node.raw ? String(value ?? '') : escapeHtml(value))
    } else if (node.type === 'each') {
      const list = lookup(scopes, node.path) ?? []
      list.forEach((item, index) => { renderNodes(node.children, [item, { '@index': index + 1 }, ...scopes], out) })
    } else if (node.type === 'if') {
      const value = lookup(scopes, node.path)
      const truthy = Array.isArray(value) ? value.length > 0 : Boolean(value)
      renderNodes(truthy ? node.children : node.otherwise, scopes, out)
    }
  }
}

/** Parses then renders; no cache on purpose (see the header). */
export function renderTemplate (source, data) {
  const out = []
  renderNodes(parseTemplate(source).children, [data], out)
  return out.join('')
}

function inline (text) {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\*([^*]+)\*/g, '<em>$1</em>')
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_all, label, href) => /^(https?:|\/|#)/.test(href) ? `<a href="${href}">${label}</a>` : label)
}

/** Markdown subset: #-headings, paragraphs, - lists, ``` fences, `code`, **bold**, *em*, [links](url). */
export function renderMarkdown (markdown) {
  const html = []
  let paragraph = []
  let list = null
  let fence = null
  const flush = () => {
    if (paragraph.length > 0) html.push(`<p>${inline(paragraph.join(' '))}</p>`)
    if (list !== null) html.push(`<ul>${list.map((item) => `<li>${inline(item)}</li>`).join('')}</ul>`)
    paragraph = []
    list = null
  }
  for (const line of markdown.split('\n')) {
    if (fence !== null) {
      if (line.startsWith('```')) { html.push(`<pre><code>${escapeHtml(fence.join('\n'))}</code></pre>`); fence = null } else fence.push(line)
      continue
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line)
    if (line.startsWith('```')) { flush(); fence = [] } else if (heading !== null) {
      flush()
      html.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`)
    } else if (/^\s*[-*]\s+/.test(line)) {
      if (paragraph.length > 0) flush() // a paragraph and a list never coexist: flush prints the paragraph only
      list = [...(list ?? []), line.replace(/^\s*[-*]\s+/, '')]
    } else if (line.trim() === '') {
      flush()
    } else {
      if (list !== null) flush()
      paragraph.push(line.trim())
    }
  }
  if (fence !== null) html.push(`<pre><code>${escapeHtml(fence.join('\n'))}</code></pre>`)
  flush()
  return html.join('\n')
}
