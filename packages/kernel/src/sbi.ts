/**
 * The SBI calls honk's kernel makes (SBI 2.0: §4 legacy console, §5 BASE, §6 TIME, §7 IPI,
 * §9 HSM, §10 SRST), each an `ecall` from S-mode on the calling hart through the port.
 */
import { HonkError } from '@honk/errors'
import { BASE_FID, EID, HSM_FID, HsmState, IPI_FID, RESET_REASON, RESET_TYPE, SRST_FID, TIME_FID } from '@honk/riscv'
import type { HsPort, SbiRet } from './port.js'

/** HSM hart states (SBI 2.0 §9.1), by their number ({@link HsmState}), as the kernel prints them. */
export const HART_STATE = {
  [HsmState.STARTED]: 'started',
  [HsmState.STOPPED]: 'stopped',
  [HsmState.START_PENDING]: 'start-pending',
  [HsmState.STOP_PENDING]: 'stop-pending',
  [HsmState.SUSPENDED]: 'suspended',
  [HsmState.SUSPEND_PENDING]: 'suspend-pending',
  [HsmState.RESUME_PENDING]: 'resume-pending',
} as const satisfies Record<HsmState, string>

export class SbiError extends HonkError<'SBI'> {
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
    this.port.sbi(this.hart, EID.LEGACY_CONSOLE_PUTCHAR, 0, [BigInt(byte)])
  }
  print(text: string): void {
    for (const b of new TextEncoder().encode(text.replace(/\r?\n/g, '\r\n'))) this.putchar(b)
  }

  specVersion(): { major: number; minor: number } {
    const v = this.call('get_spec_version', EID.BASE, BASE_FID.GET_SPEC_VERSION).value
    return { major: Number((v >> 24n) & 0x7fn), minor: Number(v & 0xffffffn) }
  }
  implementation(): { id: number; version: bigint } {
    return { id: Number(this.call('get_impl_id', EID.BASE, BASE_FID.GET_IMPL_ID).value), version: this.call('get_impl_version', EID.BASE, BASE_FID.GET_IMPL_VERSION).value }
  }
  probe(eid: number): boolean {
    return this.call('probe_extension', EID.BASE, BASE_FID.PROBE_EXTENSION, [BigInt(eid)]).value !== 0n
  }

  hartStatus(hart: number): (typeof HART_STATE)[HsmState] | undefined {
    const r = this.port.sbi(this.hart, EID.HSM, HSM_FID.HART_GET_STATUS, [BigInt(hart)])
    const state = Number(r.value)
    return r.error === 0n && Object.hasOwn(HART_STATE, state) ? HART_STATE[state as HsmState] : undefined
  }
  hartStart(hart: number, entry: number, opaque: bigint): void {
    this.call(`hart_start(${hart})`, EID.HSM, HSM_FID.HART_START, [BigInt(hart), BigInt(entry), opaque])
  }
  /** Sends a supervisor software interrupt to each hart in `harts`. */
  sendIpi(harts: readonly number[]): void {
    let mask = 0n
    for (const h of harts) mask |= 1n << BigInt(h)
    this.call('send_ipi', EID.IPI, IPI_FID.SEND_IPI, [mask, 0n])
  }
  setTimer(deadline: bigint): void {
    this.call('set_timer', EID.TIME, TIME_FID.SET_TIMER, [deadline])
  }
  /** SRST system_reset: type 0 shutdown, 1 cold reboot ({@link RESET_TYPE}); reason 0 none. Does not return. */
  systemReset(type: typeof RESET_TYPE.SHUTDOWN | typeof RESET_TYPE.COLD_REBOOT): void {
    this.call('system_reset', EID.SRST, SRST_FID.SYSTEM_RESET, [BigInt(type), BigInt(RESET_REASON.NONE)])
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    SbiError: SbiError
  }
}
