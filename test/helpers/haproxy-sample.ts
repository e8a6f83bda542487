/**
 * The complete HAProxy configurations docs/haproxy.md shows, one per recipe (its titled blocks
 * `haproxy-<recipe>.cfg`), read from the page itself, for the e2e suite to run as written with only
 * the addresses moved: the frontend's port, the admin socket, and each server's and agent's port
 * (the sample's are example-app/haproxy-config.mjs `SAMPLE`).
 */
import { readFile } from 'node:fs/promises'
import { marked, type Token, type Tokens } from 'marked'
import { SAMPLE, type Recipe } from '../../example-app/haproxy-config.mjs'

const PAGE = new URL('../../docs/haproxy.md', import.meta.url)

/** Every code block of a markdown text, nested ones (in lists) included. */
export function codeBlocks (tokens: Token[]): Tokens.Code[] {
  return tokens.flatMap((token): Tokens.Code[] => {
    if (token.type === 'code') return [token as Tokens.Code]
    const children = [...('tokens' in token && Array.isArray(token.tokens) ? token.tokens : []), ...('items' in token && Array.isArray(token.items) ? token.items as Token[] : [])]
    return codeBlocks(children)
  })
}

/** The block titled `haproxy-<recipe>.cfg` of docs/haproxy.md, as written. */
export async function documentedConfig (recipe: Recipe): Promise<string> {
  const title = `haproxy-${recipe}.cfg`
  const block = codeBlocks(marked.lexer(await readFile(PAGE, 'utf8'))).find((code) => new RegExp(`(?:^|\\s)title="${title}"`).test(code.lang ?? ''))
  if (block === undefined) throw new Error(`docs/haproxy.md has no block titled ${title}`)
  return `${block.text}\n`
}

export interface Moved {
  frontendPort: number
  statsSocket: string
  /** The ports of app1 and app2 (and their agents), in the sample's order. */
  servers: Array<{ port: number, agentPort: number }>
}

/** `config` with the sample's addresses replaced; throws when one of them is not found, so that a
 * change of the sample cannot leave a test running against the sample's own ports. */
export function moveAddresses (config: string, moved: Moved): string {
  const replacements: Array<[string, string]> = [
    [`bind 127.0.0.1:${SAMPLE.frontendPort}`, `bind 127.0.0.1:${moved.frontendPort}`],
    [`stats socket ${SAMPLE.statsSocket} `, `stats socket ${moved.statsSocket} `]
  ]
  SAMPLE.servers.forEach((server, index) => {
    const to = moved.servers[index] as { port: number, agentPort: number }
    replacements.push([`${server.name} 127.0.0.1:${server.port} `, `${server.name} 127.0.0.1:${to.port} `])
    if (config.includes(`agent-port ${server.agentPort} `)) replacements.push([`agent-port ${server.agentPort} `, `agent-port ${to.agentPort} `])
  })
  let text = config
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`the documented configuration has no "${from}"`)
    text = text.replace(from, to)
  }
  return text
}
