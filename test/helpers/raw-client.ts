/**
 * Raw TCP clients for tests: an HTTP client that sends exactly the bytes given (HTTP/1.0, no Host,
 * as HAProxy's `option httpchk` does) and an agent-check client. Each opens one connection and
 * closes it before resolving.
 */
import { connect, type Socket } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** Everything received. */
  raw: string
}

function collect (port: number, onConnect: (socket: Socket) => void, timeoutMs: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => { socket.destroy(new Error(`no answer within ${timeoutMs} ms`)) })
    socket.on('connect', () => { onConnect(socket) })
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    socket.on('error', reject)
    socket.on('close', () => { resolve(Buffer.concat(chunks).toString('latin1')) })
  })
}

export function parseRawResponse (raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n')
  const head = end === -1 ? raw : raw.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: end === -1 ? '' : raw.slice(end + 4), raw }
}

/**
 * Sends `request` as is (write it with `\r\n` line ends) and reads until the server closes.
 * `halfClose` ends our side right after the request, the way some checkers do; `host` is the
 * address to connect to (127.0.0.1 by default).
 */
export async function rawHttp (port: number, request: string | Buffer, options: { halfClose?: boolean, timeoutMs?: number, host?: string } = {}): Promise<RawResponse> {
  const raw = await collect(port, (socket) => {
    socket.write(request)
    if (options.halfClose === true) socket.end()
  }, options.timeoutMs ?? 5000, options.host)
  return parseRawResponse(raw)
}

/** Writes `request` on a socket already connected and reads until the server closes it. */
export async function rawHttpOn (socket: Socket, request: string): Promise<RawResponse> {
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  const closed = new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once('close', () => { resolve() })
  })
  socket.write(request)
  await closed
  return parseRawResponse(Buffer.concat(chunks).toString('latin1'))
}

/** HAProxy's default probe: `OPTIONS / HTTP/1.0`, no Host header, plus any extra header lines. */
export function haproxyProbe (port: number, extraHeaders: string[] = [], request = 'OPTIONS / HTTP/1.0'): Promise<RawResponse> {
  return rawHttp(port, `${request}\r\n${extraHeaders.map((line) => `${line}\r\n`).join('')}\r\n`)
}

/** Connects to an agent-check port, optionally writes `send`, and returns all it read until close. */
export function agentCheck (port: number, send?: string | Buffer, timeoutMs = 5000): Promise<string> {
  return collect(port, (socket) => { if (send !== undefined) socket.write(send) }, timeoutMs)
}
