/**
 * honk's network (honk M6): the stack of `@honk/net` on the kernel's virtio-net driver, an
 * address by DHCP (the user-mode NAT's, 10.0.2.15/24 via 10.0.2.2) with the Go honk's static
 * configuration as the fallback, and the HTTP server on :80.
 *
 * The HTTP server itself is the host's to supply ({@link HttpService}): on Node it is Node's
 * own `http.Server` over `@honk/net` sockets (`@honk/kernel/node`); the kernel supplies what
 * it answers ({@link HttpHandler}), so the kernel core still runs in a browser.
 */
import { DhcpClient, DnsResolver, Stack, formatIpv4, formatMac, macFromBytes, maskToPrefix, parseIpv4, prefixToMask, realClock, type FramePort, type Ipv4Config, type NetClock } from '@honk/net'
import { readFile, type FS } from '@honk/vfs'

/** The Go honk's static configuration, used when no DHCP server answers (inventory §1.10.3). */
export const STATIC_FALLBACK: Ipv4Config = { address: parseIpv4('10.0.2.15'), netmask: prefixToMask(24), gateway: parseIpv4('10.0.2.2'), dns: [parseIpv4('10.0.2.3')] }
/** How long the boot waits for a DHCP lease before the static configuration. */
export const DHCP_WAIT_MS = 3000
/** The port honk's HTTP server listens on. */
export const HTTP_PORT = 80

/** One HTTP request as honk's server sees it. */
export interface HttpRequest {
  readonly method: string
  /** The path and query, e.g. `/files/motd`. */
  readonly path: string
}

/** What the server answers. */
export interface HttpReply {
  readonly status: number
  readonly contentType: string
  readonly body: string | Uint8Array
}

export type HttpHandler = (request: HttpRequest) => Promise<HttpReply>

/** An HTTP server the host runs over the kernel's stack. */
export interface HttpService {
  /** Serves `handler` on TCP `port` of `stack`; resolves once listening. */
  serve(stack: Stack, port: number, handler: HttpHandler): Promise<{ close(): Promise<void> }>
}

/** A network interface card as the kernel's driver gives it. */
export interface Nic extends FramePort {
  readonly mac: Uint8Array
  readonly mtu: number
  readonly stats: { txFrames: number; txDropped: number; rxFrames: number; rxDropped: number }
}

export interface NetworkOptions {
  readonly nic: Nic
  readonly clock?: NetClock
  /** Prints one boot line. */
  readonly line: (text: string) => void
  readonly http?: HttpService
  /** What `/` reports. */
  readonly status: () => { uptime: string; harts: number }
  /** The root filesystem, served under `/files/`. */
  readonly fs: FS
  readonly dhcpWaitMs?: number
}

/** The network once up: its stack, how it got its address, and the HTTP server. */
export class Network {
  readonly stack: Stack
  readonly mac: string
  readonly resolver: DnsResolver
  source: 'dhcp' | 'static' = 'static'
  httpPort: number | undefined
  private dhcp: DhcpClient | undefined
  private http: { close(): Promise<void> } | undefined

  private constructor(private readonly options: NetworkOptions) {
    const nic = options.nic
    this.stack = new Stack({ port: nic, mac: macFromBytes(nic.mac), clock: options.clock ?? realClock, mtu: nic.mtu })
    this.mac = formatMac(macFromBytes(nic.mac))
    this.resolver = new DnsResolver(this.stack)
  }

  /**
   * Brings the interface up: DHCP (waiting at most `dhcpWaitMs`), else the static fallback;
   * then the HTTP server. Prints `honk: net up  ip=…/24  gw=…  mac=…` and
   * `honk: httpd serving on :80` (or the failure lines of inventory §2.1).
   */
  static async up(options: NetworkOptions): Promise<Network> {
    const net = new Network(options)
    const dhcp = new DhcpClient(net.stack, { hostname: 'honk', fallback: STATIC_FALLBACK, fallbackAfterMs: options.dhcpWaitMs ?? DHCP_WAIT_MS })
    net.dhcp = dhcp
    dhcp.onBound = () => (net.source = 'dhcp')
    dhcp.start()
    await dhcp.ready()
    if (dhcp.lease && dhcp.state !== 'fallback') net.source = 'dhcp'
    options.line(`honk: net up  ${net.describe()}  (${net.source === 'dhcp' ? 'DHCP' : 'static: no DHCP answer'})`)
    if (options.http) {
      try {
        net.http = await options.http.serve(net.stack, HTTP_PORT, (r) => net.handle(r))
        net.httpPort = HTTP_PORT
        options.line(`honk: httpd serving on :${HTTP_PORT}`)
      } catch (e) {
        options.line(`honk: httpd listen failed: ${(e as Error).message}`)
      }
    }
    return net
  }

  /** The NIC's own counters (what the driver dropped). */
  nicStats(): Nic['stats'] {
    return this.options.nic.stats
  }

  /** `ip=10.0.2.15/24  gw=10.0.2.2  mac=52:54:00:12:34:56`. */
  describe(): string {
    const cfg = this.stack.ipv4
    if (!cfg) return `ip=none  mac=${this.mac}`
    const gw = cfg.gateway === undefined ? 'none' : formatIpv4(cfg.gateway)
    return `ip=${formatIpv4(cfg.address)}/${maskToPrefix(cfg.netmask)}  gw=${gw}  mac=${this.mac}`
  }

  /** honk's routes: `/` (three lines), `/status.json`, `/files/<path>` from the root FS. */
  async handle(request: HttpRequest): Promise<HttpReply> {
    const text = (status: number, body: string): HttpReply => ({ status, contentType: 'text/plain; charset=utf-8', body })
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, `method ${request.method} not allowed\n`)
    const path = request.path.split('?')[0] ?? '/'
    const s = this.options.status()
    if (path === '/') return text(200, `honk - TypeScript RISC-V64 OS\nuptime ${s.uptime}\nharts ${s.harts}\n`)
    if (path === '/status.json') {
      const cfg = this.stack.ipv4
      const body = { name: 'honk', uptime: s.uptime, harts: s.harts, ip: cfg ? formatIpv4(cfg.address) : null, mac: this.mac, source: this.source, counters: this.stack.counters }
      return { status: 200, contentType: 'application/json', body: JSON.stringify(body) + '\n' }
    }
    if (path.startsWith('/files/')) {
      let name: string
      try {
        name = decodeURIComponent(path.slice('/files/'.length))
      } catch {
        return text(400, 'bad path encoding\n')
      }
      // The shell's path rules: no way above the root.
      const parts = name.split('/').filter((p) => p !== '' && p !== '.')
      if (parts.includes('..')) return text(400, 'no .. in paths\n')
      const fsPath = parts.join('/')
      try {
        const st = await this.options.fs.stat(fsPath)
        if (st.type === 'dir') return text(200, (await this.options.fs.readDir(fsPath)).map((e) => (e.type === 'dir' ? `${e.name}/` : e.name)).join('\n') + '\n')
        return { status: 200, contentType: 'application/octet-stream', body: await readFile(this.options.fs, fsPath) }
      } catch (e) {
        return text(404, `${fsPath || '/'}: ${(e as Error).message}\n`)
      }
    }
    return text(404, `no route ${path}\n`)
  }

  /** Stops DHCP, the HTTP server and every socket. */
  async close(): Promise<void> {
    this.dhcp?.stop()
    await this.http?.close().catch(() => undefined)
    this.resolver.close()
    this.stack.close()
  }
}
