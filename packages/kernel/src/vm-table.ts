/**
 * honk's running guests (M13, honk mode): each `vm linux` is a process in honk's process table
 * (its pid is the VM's id: `ps` lists it, `kill` and `vm stop` end it through the process's kill
 * signal), with a console that is either attached to honk's (output shown, typed input
 * forwarded) or detached (output kept, the last {@link SCROLLBACK} bytes), and a piece of the
 * kernel's guest RAM that no other guest touches while it runs.
 */
import { Gateway, parseIpv4, realClock, type FramePort, type NetClock, type Stack } from '@honk/net'
import { loopbackPair } from '@honk/virtio'
import type { GuestConsole, HostRegion, VmOutcome } from '@honk/vmm'
import type { KernelHypervisor, ShellHost } from './services.js'
import { HartScheduler } from './vcpu-placement.js'

/** Output a detached guest keeps for the next `vm attach` (oldest bytes dropped first). */
export const SCROLLBACK = 64 << 10
/** Typed bytes a guest has not read yet, at most (more are dropped: the guest is not reading). */
export const INPUT_QUEUE = 4096

/** A guest console: the SBI console's bytes, routed to whoever is attached. */
export class VmConsole implements GuestConsole {
  private sink: ((byte: number) => void) | undefined
  private kept: number[] = []
  private readonly input: number[] = []

  write(byte: number): void {
    if (this.sink) return this.sink(byte)
    this.kept.push(byte)
    if (this.kept.length > SCROLLBACK) this.kept.splice(0, this.kept.length - SCROLLBACK)
  }

  /** SBI console_getchar: the oldest typed byte not yet read, or -1. */
  read(): number {
    return this.input.shift() ?? -1
  }

  type(byte: number): void {
    if (this.input.length < INPUT_QUEUE) this.input.push(byte)
  }

  /** Shows what was kept while detached, then sends every byte to `sink` until {@link detach}. */
  attach(sink: (byte: number) => void): void {
    const kept = this.kept
    this.kept = []
    for (const b of kept) sink(b)
    this.sink = sink
  }

  detach(): void {
    this.sink = undefined
  }

  get attached(): boolean {
    return this.sink !== undefined
  }
}

export type VmState = 'running' | 'halted' | 'stopped' | 'fault' | 'preempted' | 'did-not-halt' | 'error'

export interface VmRecord {
  /** Its pid in honk's process table. */
  readonly id: number
  readonly kind: string
  readonly vcpus: number
  readonly memMiB: number
  readonly console: VmConsole
  state: VmState
  /** Resolves when the guest has ended and its RAM is free again. */
  readonly ended: Promise<VmOutcome | undefined>
}

/** State word for `vm list` from how a run ended. */
export function stateOf(o: VmOutcome): VmState {
  switch (o.reason) {
    case 'shutdown':
    case 'cold-reboot':
    case 'warm-reboot':
      return 'halted'
    default:
      return o.reason
  }
}

/**
 * The kernel's guest RAM handed out in 2 MiB-aligned pieces, first fit: each running guest gets
 * its own, so two guests (or a guest and a demo) never share RAM or G-stage tables.
 */
export class GuestRamPool {
  private readonly used: { off: number; size: number }[] = []
  static readonly ALIGN = 2 << 20

  constructor(readonly region: HostRegion) {}

  get size(): number {
    return this.region.bytes.length
  }

  get inUse(): number {
    return this.used.reduce((a, u) => a + u.size, 0)
  }

  /** A piece of at least `size` bytes (rounded up to 2 MiB), or undefined if none is free. */
  alloc(size: number): { region: HostRegion; free: () => void } | undefined {
    const A = GuestRamPool.ALIGN
    const want = Math.ceil(size / A) * A
    // Pieces start 2 MiB-aligned in the machine's address space (megapage G-stage leaves).
    let off = (Math.ceil(this.region.base / A) * A) - this.region.base
    const sorted = [...this.used].sort((a, b) => a.off - b.off)
    for (const u of sorted) {
      if (off + want <= u.off) break
      off = Math.max(off, Math.ceil((this.region.base + u.off + u.size) / A) * A - this.region.base)
    }
    if (off + want > this.region.bytes.length) return undefined
    const piece = { off, size: want }
    this.used.push(piece)
    const bytes = this.region.bytes.subarray(off, off + want)
    bytes.fill(0)
    return {
      region: { base: this.region.base + off, bytes },
      free: () => {
        const i = this.used.indexOf(piece)
        if (i >= 0) this.used.splice(i, 1)
      },
    }
  }
}

/** One kernel's VMs (by pid), its guest RAM pool, and where their vCPUs run. */
export interface VmTable {
  readonly vms: Map<number, VmRecord>
  readonly pool: GuestRamPool
  readonly scheduler: HartScheduler
}

const tables = new WeakMap<ShellHost, VmTable>()

/** The VM table of the kernel behind `host` (made on first use). */
export function vmTable(host: ShellHost, hv: Pick<KernelHypervisor, 'region' | 'harts'>): VmTable {
  let t = tables.get(host)
  if (!t) {
    t = { vms: new Map(), pool: new GuestRamPool(hv.region), scheduler: new HartScheduler(() => hv.harts()) }
    tables.set(host, t)
  }
  return t
}

/** A guest's private Ethernet link: honk is the router at 10.0.3.1/24, the guest gets 10.0.3.15 by DHCP. */
export const GUEST_LINK = { honk: '10.0.3.1', guest: '10.0.3.15', netmask: '255.255.255.0' } as const

/** A guest's network: the wire for its virtio-net, honk's router on it, and what ends it. */
export interface GuestLink {
  readonly port: FramePort
  readonly gateway: Gateway
  /** Stops the router (its flows, DHCP, honk's HTTP on the link). */
  close(): Promise<void>
}

/**
 * The link behind a guest's virtio-net: a frame pair whose far end is honk's router (a
 * `@honk/net` {@link Gateway} at {@link GUEST_LINK}.honk): DHCP hands the guest
 * {@link GUEST_LINK}.guest, honk's HTTP routes are served on :80 of the router's address
 * (`serveHttp`), and every flow to another address is NATed out through honk's own network
 * (`uplink`: honk's stack, so the guest reaches what honk reaches — the host's user-mode NAT,
 * 10.0.2.2 being the host's loopback). No uplink (honk has no network): outside flows are refused.
 */
export async function guestLink(opts: { uplink?: () => Stack | undefined; serveHttp?: ((stack: Stack) => Promise<{ close(): Promise<void> }>) | undefined; clock?: NetClock } = {}): Promise<GuestLink> {
  const [guestSide, honkSide] = loopbackPair()
  const gateway = new Gateway({ port: honkSide, address: parseIpv4(GUEST_LINK.honk), netmask: parseIpv4(GUEST_LINK.netmask), poolStart: parseIpv4(GUEST_LINK.guest), poolSize: 1, clock: opts.clock ?? realClock, uplink: opts.uplink ?? (() => undefined) })
  let http: { close(): Promise<void> } | undefined
  try {
    http = await opts.serveHttp?.(gateway.stack)
  } catch {
    http = undefined // the guest link works without honk's HTTP (the port may be taken)
  }
  return {
    port: guestSide,
    gateway,
    close: async () => {
      await http?.close().catch(() => undefined)
      gateway.close()
    },
  }
}

/** Linux's IP autoconfiguration (Documentation/admin-guide/nfs/nfsroot.rst `ip=`): DHCP on eth0 from honk's router. */
export const guestIpArg = (): string => 'ip=dhcp'
