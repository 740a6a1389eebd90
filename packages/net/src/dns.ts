/**
 * A DNS stub resolver (A records over UDP, retries across servers, timeouts) and a tiny
 * responder (the NAT's 10.0.2.3) that answers A queries from a lookup function.
 */
import { formatIpv4, parseIpv4 } from './addr.js'
import type { NetTimer } from './clock.js'
import { decodeDns, DNS_PORT, DnsRcode, DnsType, encodeDns, type DnsMessage } from './dns-codec.js'
import { NetError, NetMalformedError } from './errors.js'
import type { Stack, UdpSocket } from './stack.js'

export interface DnsResolverOptions {
  /** Servers to ask in turn; default: the stack's configured DNS servers (from DHCP). */
  servers?: number[]
  /** Per attempt. Default 2000 ms. */
  timeoutMs?: number
  /** Attempts in all, cycling through the servers. Default 3. */
  attempts?: number
}

interface Pending {
  name: string
  resolve: (a: number[]) => void
  reject: (e: Error) => void
  timer: NetTimer | undefined
  attempt: number
}

export class DnsResolver {
  private socket: UdpSocket | undefined
  private readonly pending = new Map<number, Pending>()

  constructor(
    private readonly stack: Stack,
    private readonly opts: DnsResolverOptions = {},
  ) {}

  /** The IPv4 addresses of `name` (a dotted quad resolves to itself). Rejects with NetError NET_DNS or NET_TIMEOUT. */
  resolve4(name: string): Promise<number[]> {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return Promise.resolve([parseIpv4(name)])
    return new Promise((resolve, reject) => {
      let id: number
      do id = this.stack.random32() & 0xffff
      while (this.pending.has(id))
      const p: Pending = { name: name.replace(/\.$/, '').toLowerCase(), resolve, reject, timer: undefined, attempt: 0 }
      this.pending.set(id, p)
      this.attempt(id, p)
    })
  }

  /** Rejects outstanding queries and unbinds. */
  close(): void {
    for (const [id, p] of this.pending) this.finish(id, p, new NetError('NET_CLOSED', `DNS query for ${p.name}: resolver closed`))
    this.socket?.close()
    this.socket = undefined
  }

  private servers(): number[] {
    return this.opts.servers ?? this.stack.ipv4?.dns ?? []
  }

  private attempt(id: number, p: Pending): void {
    const servers = this.servers()
    if (servers.length === 0) return this.finish(id, p, new NetError('NET_NOT_CONFIGURED', `DNS query for ${p.name}: no DNS server configured`))
    if (p.attempt >= (this.opts.attempts ?? 3)) return this.finish(id, p, new NetError('NET_TIMEOUT', `DNS query for ${p.name}: no answer after ${p.attempt} attempts to ${servers.map(formatIpv4).join(', ')}`))
    const server = servers[p.attempt % servers.length]!
    p.attempt++
    if (!this.socket) {
      this.socket = this.stack.bindUdp(0)
      this.socket.onMessage = (payload, from) => this.receive(payload, from.address)
    }
    const q: DnsMessage = { id, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0, questions: [{ name: p.name, type: DnsType.A, class: 1 }], answers: [], authority: [], additional: [] }
    this.socket.send(encodeDns(q), server, DNS_PORT)
    p.timer = this.stack.clock.schedule(this.opts.timeoutMs ?? 2000, () => this.attempt(id, p))
  }

  private receive(payload: Uint8Array, from: number): void {
    let m: DnsMessage
    try {
      m = decodeDns(payload)
    } catch (e) {
      if (e instanceof NetMalformedError) return
      throw e
    }
    const p = this.pending.get(m.id)
    // Only a response to our question from one of our servers counts (RFC 5452 §9.1).
    if (!p || !m.qr || !this.servers().includes(from) || m.questions[0]?.name.toLowerCase() !== p.name) return
    if (m.rcode === DnsRcode.NXDOMAIN) return this.finish(m.id, p, new NetError('NET_DNS', `DNS: ${p.name} does not exist (NXDOMAIN)`))
    if (m.rcode !== DnsRcode.NOERROR) return this.finish(m.id, p, new NetError('NET_DNS', `DNS: ${p.name}: server answered rcode ${m.rcode}`))
    const addrs = m.answers.filter((r) => r.type === DnsType.A && r.address !== undefined).map((r) => r.address!)
    if (addrs.length === 0) return this.finish(m.id, p, new NetError('NET_DNS', `DNS: ${p.name} has no A record`))
    this.finish(m.id, p, undefined, addrs)
  }

  private finish(id: number, p: Pending, err: Error | undefined, addrs: number[] = []): void {
    if (p.timer) this.stack.clock.clear(p.timer)
    this.pending.delete(id)
    if (err) p.reject(err)
    else p.resolve(addrs)
  }
}

export interface DnsResponderOptions {
  /** Address to answer on (the NAT's 10.0.2.3); 0 = any. */
  address?: number
  /** Resolves a name to IPv4 addresses; an empty list or a rejection answers NXDOMAIN. */
  lookup: (name: string) => Promise<number[]>
  /** TTL of the answers. Default 60 s. */
  ttl?: number
  /** Lookups in flight at once; further queries are answered SERVFAIL. Default 64. */
  maxInflight?: number
}

/** Answers A queries from `lookup`; AAAA and other types get an empty NOERROR answer. */
export class DnsResponder {
  private readonly socket: UdpSocket
  private inflight = 0
  readonly counters = { queries: 0, answered: 0, nxdomain: 0, refused: 0, malformed: 0 }

  constructor(
    stack: Stack,
    private readonly opts: DnsResponderOptions,
  ) {
    this.socket = stack.bindUdp(DNS_PORT, opts.address ?? 0)
    this.socket.onMessage = (payload, from) => void this.receive(payload, from.address, from.port, from.localAddress)
  }

  private closed = false

  close(): void {
    this.closed = true
    this.socket.close()
  }

  private async receive(payload: Uint8Array, addr: number, port: number, local: number): Promise<void> {
    let q: DnsMessage
    try {
      q = decodeDns(payload)
    } catch (e) {
      if (!(e instanceof NetMalformedError)) throw e
      this.counters.malformed++
      return
    }
    if (q.qr) return
    this.counters.queries++
    const reply = (rcode: number, answers: DnsMessage['answers'] = []) => {
      // A lookup that finishes after close() has nobody to answer (its socket is gone).
      if (this.closed) return
      const m: DnsMessage = { id: q.id, qr: true, opcode: q.opcode, aa: false, tc: false, rd: q.rd, ra: true, rcode, questions: q.questions.slice(0, 1), answers, authority: [], additional: [] }
      this.socket.send(encodeDns(m), addr, port, { src: local })
    }
    const question = q.questions[0]
    if (q.opcode !== 0 || q.questions.length !== 1 || !question) return reply(q.opcode !== 0 ? DnsRcode.NOTIMP : DnsRcode.FORMERR)
    if (question.type !== DnsType.A) return reply(DnsRcode.NOERROR)
    if (this.inflight >= (this.opts.maxInflight ?? 64)) {
      this.counters.refused++
      return reply(DnsRcode.SERVFAIL)
    }
    this.inflight++
    let addrs: number[] = []
    try {
      addrs = await this.opts.lookup(question.name)
    } catch {
      addrs = []
    } finally {
      this.inflight--
    }
    if (addrs.length === 0) {
      this.counters.nxdomain++
      return reply(DnsRcode.NXDOMAIN)
    }
    this.counters.answered++
    const ttl = this.opts.ttl ?? 60
    reply(
      DnsRcode.NOERROR,
      addrs.map((address) => ({ name: question.name, type: DnsType.A, class: 1, ttl, address, data: new Uint8Array(0) })),
    )
  }
}
