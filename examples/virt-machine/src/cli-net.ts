/**
 * honk-virt's network backends, in QEMU's spellings: `-netdev user` (the user-mode NAT of
 * `@honk/net/node`, with `hostfwd=` and `restrict=`), and the raw-Ethernet socket netdevs
 * that let this machine share a wire with a QEMU guest — `-netdev stream` and
 * `-netdev socket,listen=|connect=` (frames with a 4-byte length over TCP or a unix socket) and
 * `-netdev dgram` / `-netdev socket,udp=` (one frame per UDP datagram).
 */
import { createSocket } from 'node:dgram'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { HonkError } from '@honk/errors'
import { UserNet, dgramFramePort, parseHostForward, streamFramePort, type ClosableFramePort } from '@honk/net/node'
import { loopbackPair, parseMac, type FramePort } from '@honk/virtio'
import { UsageError } from './cli.js'

/** Where a QEMU socket netdev's other end is: host and port, or a unix socket path. */
export type SocketAddress = { host: string; port: number } | { path: string }

/** One `-netdev`, parsed. */
export type NetdevSpec =
  | { id: string; type: 'user'; hostForwards: string[]; restrict: boolean }
  | { id: string; type: 'stream'; server: boolean; address: SocketAddress }
  | { id: string; type: 'dgram'; local: { host: string; port: number }; remote: { host: string; port: number } }

/** The NIC: its backend and MAC (`-device virtio-net-device,netdev=<id>[,mac=…]`). */
export interface NicSpec {
  netdev: NetdevSpec
  mac?: string
}

/** Items of QEMU's keyval syntax in order, repeats kept (`hostfwd=` may repeat). */
export function keyvalItems(flag: string, text: string, implied?: string): [string, string][] {
  const items: string[] = []
  let cur = ''
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ',') cur += text[i]
    else if (text[i + 1] === ',') (cur += ','), i++
    else items.push(cur), (cur = '')
  }
  items.push(cur)
  return items.map((item, i) => {
    const eq = item.indexOf('=')
    if (eq > 0) return [item.slice(0, eq), item.slice(eq + 1)]
    if (i === 0 && implied !== undefined && item !== '') return [implied, item]
    throw new UsageError(`${flag} ${text}: "${item}" is not key=value`)
  })
}

function hostPort(where: string, text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const m = /^([^:]*):(\d{1,5})$/.exec(text)
  const port = m ? Number(m[2]) : NaN
  if (!m || port < 1 || port > 65535) throw new UsageError(`${where}: "${text}" is not [host]:port`)
  return { host: m[1] || defaultHost, port }
}

function onOff(where: string, v: string): boolean {
  if (['on', 'yes', 'true'].includes(v)) return true
  if (['off', 'no', 'false'].includes(v)) return false
  throw new UsageError(`${where}: ${v}: on or off`)
}

/** Parses `-netdev <type>,id=…,…` (QEMU 7.2's keys for user, stream, dgram and socket). */
export function parseNetdev(flag: string, text: string): NetdevSpec {
  const where = `${flag} ${text}`
  const items = keyvalItems(flag, text, 'type')
  const kv = new Map<string, string>()
  const hostForwards: string[] = []
  for (const [k, v] of items) {
    if (k === 'hostfwd') hostForwards.push(v)
    else kv.set(k, v)
  }
  const take = (k: string) => {
    const v = kv.get(k)
    kv.delete(k)
    return v
  }
  const type = take('type')
  const id = take('id')
  if (id === undefined || id === '') throw new UsageError(`${where}: id=<name> is required (-device virtio-net-device,netdev=<name> uses it)`)
  let spec: NetdevSpec
  if (type === 'user') {
    for (const f of hostForwards) {
      try {
        parseHostForward(f)
      } catch (e) {
        throw new UsageError(`${where}: hostfwd=${f}: ${(e as Error).message}`)
      }
    }
    const restrict = take('restrict')
    // QEMU's defaults, which are this NAT's: net=10.0.2.0/24, host=10.0.2.2, dns=10.0.2.3, dhcpstart=10.0.2.15.
    for (const [k, want] of [['net', '10.0.2.0/24'], ['host', '10.0.2.2'], ['dns', '10.0.2.3'], ['dhcpstart', '10.0.2.15']] as const) {
      const v = take(k)
      if (v !== undefined && v !== want) throw new UsageError(`${where}: ${k}=${v} is not supported (only QEMU's default ${want})`)
    }
    spec = { id, type: 'user', hostForwards, restrict: restrict === undefined ? false : onOff(where, restrict) }
  } else if (hostForwards.length > 0) throw new UsageError(`${where}: hostfwd= belongs to -netdev user`)
  else if (type === 'stream') {
    const server = take('server')
    const addrType = take('addr.type') ?? 'inet'
    let address: SocketAddress
    if (addrType === 'inet') {
      const host = take('addr.host') ?? '127.0.0.1'
      const port = Number(take('addr.port'))
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${where}: addr.port=<1-65535> is required`)
      address = { host, port }
    } else if (addrType === 'unix') {
      const path = take('addr.path')
      if (!path) throw new UsageError(`${where}: addr.path=<socket file> is required`)
      address = { path }
    } else throw new UsageError(`${where}: addr.type=${addrType} is not supported (inet or unix)`)
    spec = { id, type: 'stream', server: server === undefined ? false : onOff(where, server), address }
  } else if (type === 'dgram') {
    for (const side of ['local', 'remote']) {
      const t = take(`${side}.type`) ?? 'inet'
      if (t !== 'inet') throw new UsageError(`${where}: ${side}.type=${t} is not supported (inet)`)
    }
    const local = { host: take('local.host') ?? '127.0.0.1', port: Number(take('local.port')) }
    const remote = { host: take('remote.host') ?? '127.0.0.1', port: Number(take('remote.port')) }
    for (const [side, a] of [['local', local], ['remote', remote]] as const) if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new UsageError(`${where}: ${side}.port=<1-65535> is required`)
    spec = { id, type: 'dgram', local, remote }
  } else if (type === 'socket') {
    const listen = take('listen')
    const conn = take('connect')
    const udp = take('udp')
    const localaddr = take('localaddr')
    if ([listen, conn, udp].filter((x) => x !== undefined).length !== 1) throw new UsageError(`${where}: one of listen=, connect= or udp= (multicast mcast= is not supported)`)
    if (udp !== undefined) {
      if (localaddr === undefined) throw new UsageError(`${where}: udp= needs localaddr=[host]:port`)
      spec = { id, type: 'dgram', local: hostPort(where, localaddr), remote: hostPort(where, udp) }
    } else spec = { id, type: 'stream', server: listen !== undefined, address: hostPort(where, (listen ?? conn)!, listen !== undefined ? '0.0.0.0' : '127.0.0.1') }
  } else throw new UsageError(`${where}: -netdev ${type ?? ''} is not supported (user, stream, dgram or socket)`)
  const [key, value] = [...kv][0] ?? []
  if (key !== undefined) throw new UsageError(`${where}: ${key}=${value} is not supported`)
  return spec
}

/** A network backend could not be opened (a port in use, nobody listening): one line, exit 1. */
export class NetBackendError extends HonkError<'CLI_NET'> {
  constructor(message: string) {
    super('CLI_NET', message)
  }
}

/** An opened backend: the guest NIC's wire, and how to close it. */
export interface NetBackend {
  readonly wire: FramePort
  /** One line for the user: what is on the other end. */
  readonly description: string
  close(): Promise<void>
}

/** A FramePort whose far side is attached later (a stream server before its client connects): frames sent before are dropped. */
class LateWire implements FramePort {
  private listeners = new Set<(f: Uint8Array) => void>()
  private target: ClosableFramePort | undefined
  attach(port: ClosableFramePort): void {
    this.target?.close()
    this.target = port
    port.onFrame((f) => {
      for (const l of this.listeners) l(f)
    })
  }
  send(frame: Uint8Array): void {
    this.target?.send(frame)
  }
  onFrame(listener: (frame: Uint8Array) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  close(): void {
    this.target?.close()
  }
}

const describeAddress = (a: SocketAddress) => ('path' in a ? a.path : `${a.host}:${a.port}`)

/** Opens what a `-netdev` describes. */
export async function openNetBackend(spec: NetdevSpec): Promise<NetBackend> {
  if (spec.type === 'user') {
    const [wire, hostWire] = loopbackPair()
    let nat: UserNet
    try {
      nat = await UserNet.create({ port: hostWire, hostForwards: spec.hostForwards, restrict: spec.restrict })
    } catch (e) {
      throw new NetBackendError(`-netdev user,id=${spec.id}: ${(e as Error).message}`)
    }
    const fwd = nat.forwards().map((f) => `${f.hostAddress}:${f.hostPort}->:${f.guestPort}`)
    return { wire, description: `user-mode NAT (gateway 10.0.2.2, DHCP, DNS${fwd.length ? `, hostfwd ${fwd.join(' ')}` : ''})`, close: () => nat.close() }
  }
  if (spec.type === 'dgram') {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (e) => reject(new NetBackendError(`-netdev dgram,id=${spec.id}: cannot bind ${spec.local.host}:${spec.local.port}: ${e.message}`)))
      socket.bind(spec.local.port, spec.local.host, () => resolve())
    })
    const port = dgramFramePort(socket, { address: spec.remote.host, port: spec.remote.port })
    return { wire: port, description: `UDP ${spec.local.host}:${spec.local.port} <-> ${spec.remote.host}:${spec.remote.port}`, close: async () => port.close() }
  }
  const target = spec.address
  const options = 'path' in target ? { path: target.path } : { host: target.host, port: target.port }
  if (!spec.server) {
    const socket: Socket = await new Promise((resolve, reject) => {
      const s = connect(options as { path: string }, () => resolve(s))
      s.once('error', (e) => reject(new NetBackendError(`-netdev stream,id=${spec.id}: cannot connect to ${describeAddress(target)}: ${e.message}`)))
    })
    const port = streamFramePort(socket)
    return { wire: port, description: `stream to ${describeAddress(target)}`, close: async () => port.close() }
  }
  // server=on: listen; the wire is up while a client is connected (a new client replaces the old).
  const wire = new LateWire()
  const server: Server = createServer((socket) => wire.attach(streamFramePort(socket)))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new NetBackendError(`-netdev stream,id=${spec.id},server=on: cannot listen on ${describeAddress(target)}: ${e.message}`)))
    server.listen(options, () => resolve())
  })
  return {
    wire,
    description: `stream server on ${describeAddress(target)}`,
    close: async () => {
      wire.close()
      await new Promise((r) => server.close(r))
    },
  }
}

/** Checks a `mac=` value (six hex pairs). */
export function checkMac(where: string, mac: string): string {
  try {
    parseMac(mac)
  } catch {
    throw new UsageError(`${where}: mac=${mac} is not a MAC address (six hex pairs, e.g. 52:54:00:12:34:56)`)
  }
  return mac
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    NetBackendError: NetBackendError
  }
}
