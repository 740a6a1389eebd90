/** The network: net (address, counters, sockets), ping, fetch. */
import { formatIpv4, parseIpv4, type Stack } from '@honk/net'
import { defineCommand } from './command.js'
import { errorMessage } from './format.js'

/** The largest body `fetch` prints (more is counted, not shown). */
export const FETCH_SHOW_BYTES = 4096
/** A fetch that takes longer is abandoned. */
export const FETCH_TIMEOUT_MS = 15_000
/** The largest answer `fetch` takes: a peer that never stops sending cannot fill the kernel's memory. */
export const FETCH_MAX_BYTES = 16 << 20

export const net = defineCommand({
  name: 'net',
  usage: 'net',
  summary: 'address, gateway, MAC, counters and open sockets',
  group: 'network',
  run(ctx) {
    const network = ctx.host.network
    if (!network) return ctx.println('net: no network device')
    const http = network.httpPort === undefined ? '' : `  (httpd on :${network.httpPort})`
    ctx.println(`net: ${network.describe()}${http}`)
    const c = network.stack.counters
    const nic = network.nicStats()
    ctx.println(`net: frames in ${c.framesIn} out ${c.framesOut}  nic drops rx ${nic.rxDropped} tx ${nic.txDropped}  ip in ${c.ipIn} out ${c.ipOut}  tcp in ${c.tcpIn} out ${c.tcpOut}  udp in ${c.udpIn} out ${c.udpOut}  icmp in ${c.icmpIn} out ${c.icmpOut}`)
    const sockets = network.stack.tcp.connections
    ctx.println(`net: ${sockets.length} tcp socket${sockets.length === 1 ? '' : 's'}`)
    for (const s of sockets) ctx.println(`  ${formatIpv4(s.localAddr)}:${s.localPort}  ${formatIpv4(s.remoteAddr)}:${s.remotePort}  ${s.state}`)
  },
})

export const ping = defineCommand({
  name: 'ping',
  usage: 'ping <ip> [count]',
  summary: 'ICMP echo to an address (the NAT answers for 10.0.2.2)',
  group: 'network',
  async run(ctx, args) {
    const network = ctx.host.network
    if (!network) return ctx.println('ping: no network device')
    const target = args[0]
    if (target === undefined) return ctx.println('usage: ping <ip> [count]')
    let dst: number
    try {
      dst = parseIpv4(target)
    } catch {
      return ctx.println(`ping: ${target}: not an IPv4 address`)
    }
    const count = Math.min(Math.max(Number.parseInt(args[1] ?? '3', 10) || 3, 1), 20)
    let answered = 0
    for (let i = 0; i < count; i++) {
      const ms = await network.stack.ping(dst, { timeoutMs: 1000 })
      if (ms === undefined) ctx.println(`ping: ${target}: seq ${i} timed out`)
      else {
        answered++
        ctx.println(`ping: ${target}: seq ${i} time ${ms.toFixed(1)} ms`)
      }
    }
    ctx.println(`ping: ${answered}/${count} answered`)
  },
})

export const fetch = defineCommand({
  name: 'fetch',
  usage: 'fetch <url>',
  summary: 'HTTP GET over honk\'s own TCP/IP (http://host[:port]/path; names through DNS)',
  group: 'network',
  async run(ctx, args) {
    const network = ctx.host.network
    if (!network) return ctx.println('fetch: no network device')
    const url = args[0]
    if (url === undefined) return ctx.println('usage: fetch <url>')
    const m = /^http:\/\/([^/:]+)(?::(\d{1,5}))?(\/[^\s]*)?$/.exec(url)
    if (!m) return ctx.println(`fetch: ${url}: only http://host[:port]/path URLs`)
    const port = m[2] === undefined ? 80 : Number(m[2])
    if (port < 1 || port > 65535) return ctx.println(`fetch: port ${port} is out of range`)
    try {
      const [address] = await network.resolver.resolve4(m[1]!)
      if (address === undefined) return ctx.println(`fetch: ${m[1]}: no address`)
      const reply = await httpGet(network.stack, address, port, m[1]!, m[3] ?? '/')
      ctx.println(`fetch: ${reply.status}, ${reply.body.length} bytes from ${formatIpv4(address)}:${port}`)
      const shown = new TextDecoder().decode(reply.body.subarray(0, FETCH_SHOW_BYTES))
      if (shown !== '') ctx.out(shown.endsWith('\n') ? shown : `${shown}\n`)
      if (reply.body.length > FETCH_SHOW_BYTES) ctx.println(`fetch: (${reply.body.length - FETCH_SHOW_BYTES} more bytes not shown)`)
    } catch (e) {
      ctx.println(`fetch: ${errorMessage(e)}`)
    }
  },
})

/** An HTTP/1.0 GET on the stack's TCP: status line and body (read until the server closes). */
export function httpGet(stack: Stack, address: number, port: number, host: string, path: string): Promise<{ status: string; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const socket = stack.connect(address, port)
    const chunks: Uint8Array[] = []
    let size = 0
    const timer = stack.clock.schedule(FETCH_TIMEOUT_MS, () => {
      socket.abort()
      reject(new Error(`no complete answer within ${FETCH_TIMEOUT_MS / 1000} s`))
    })
    socket.onConnect = () => socket.send(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: honk\r\nConnection: close\r\n\r\n`))
    let tooLarge = false
    socket.onData = (chunk) => {
      if (tooLarge) return
      size += chunk.length
      if (size > FETCH_MAX_BYTES) {
        tooLarge = true
        chunks.length = 0
        socket.abort()
        return
      }
      chunks.push(chunk.slice())
    }
    socket.onEnd = () => socket.close()
    socket.onClose = (error) => {
      stack.clock.clear(timer)
      if (tooLarge) return reject(new Error(`the answer is larger than ${FETCH_MAX_BYTES >> 20} MiB`))
      if (error) return reject(error)
      const all = new Uint8Array(size)
      let off = 0
      for (const c of chunks) all.set(c, (off += c.length) - c.length)
      const end = findHeaderEnd(all)
      if (end < 0) return reject(new Error('the answer has no HTTP header'))
      const head = new TextDecoder().decode(all.subarray(0, end))
      const status = /^HTTP\/1\.[01] (\d{3}[^\r\n]*)/.exec(head)?.[1]
      if (!status) return reject(new Error('the answer is not HTTP/1.x'))
      resolve({ status, body: all.subarray(end + 4) })
    }
  })
}

function findHeaderEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i
  return -1
}
