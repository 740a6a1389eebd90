/**
 * The SBI calls honk's kernel makes (SBI 2.0: §4 legacy console, §5 BASE, §6 TIME, §7 IPI,
 * §9 HSM, §10 SRST), each an `ecall` from S-mode on the calling hart through the port.
 */
import { HonkError } from '@honk/errors'
import type { HsPort, SbiRet } from './port.js'

export const EID = { legacyPutchar: 0x01, base: 0x10, time: 0x54494d45, ipi: 0x735049, hsm: 0x48534d, srst: 0x53525354 } as const
/** HSM hart states (SBI 2.0 §9.1). */
export const HART_STATE = ['started', 'stopped', 'start-pending', 'stop-pending', 'suspended', 'suspend-pending', 'resume-pending'] as const

export class SbiError extends HonkError {
  constructor(
    readonly call: string,
    readonly sbiError: bigint,
  ) {
    super('SBI', `SBI ${call} failed with error ${sbiError}`)
  }
}

export class Sbi {
  constructor(
    private readonly port: HsPort,
    /** The hart the calls are made from. */
    readonly hart: number,
  ) {}

  private call(name: string, eid: number, fid: number, args: readonly bigint[] = []): SbiRet {
    const r = this.port.sbi(this.hart, eid, fid, args)
    if (r.error !== 0n) throw new SbiError(name, r.error)
    return r
  }

  /** Legacy console putchar (EID 1): the only output before the UART driver is up, as in the Go honk. */
  putchar(byte: number): void {
    this.port.sbi(this.hart, EID.legacyPutchar, 0, [BigInt(byte)])
  }
  print(text: string): void {
    for (const b of new TextEncoder().encode(text.replace(/\r?\n/g, '\r\n'))) this.putchar(b)
  }

  specVersion(): { major: number; minor: number } {
    const v = this.call('get_spec_version', EID.base, 0).value
    return { major: Number((v >> 24n) & 0x7fn), minor: Number(v & 0xffffffn) }
  }
  implementation(): { id: number; version: bigint } {
    return { id: Number(this.call('get_impl_id', EID.base, 1).value), version: this.call('get_impl_version', EID.base, 2).value }
  }
  probe(eid: number): boolean {
    return this.call('probe_extension', EID.base, 3, [BigInt(eid)]).value !== 0n
  }

  hartStatus(hart: number): (typeof HART_STATE)[number] | undefined {
    const r = this.port.sbi(this.hart, EID.hsm, 2, [BigInt(hart)])
    return r.error === 0n ? HART_STATE[Number(r.value)] : undefined
  }
  hartStart(hart: number, entry: number, opaque: bigint): void {
    this.call(`hart_start(${hart})`, EID.hsm, 0, [BigInt(hart), BigInt(entry), opaque])
  }
  /** Sends a supervisor software interrupt to each hart in `harts`. */
  sendIpi(harts: readonly number[]): void {
    let mask = 0n
    for (const h of harts) mask |= 1n << BigInt(h)
    this.call('send_ipi', EID.ipi, 0, [mask, 0n])
  }
  setTimer(deadline: bigint): void {
    this.call('set_timer', EID.time, 0, [deadline])
  }
  /** SRST system_reset: type 0 shutdown, 1 cold reboot; reason 0 none. Does not return. */
  systemReset(type: 0 | 1): void {
    this.call('system_reset', EID.srst, 0, [BigInt(type), 0n])
  }
}
