/**
 * The SiFive test finisher ("sifive,test0/1"), which QEMU's virt board also exposes to Linux
 * as syscon-poweroff (value 0x5555) and syscon-reboot (value 0x7777) at offset 0.
 */
import type { AccessSize, MmioDevice } from '@honk/rv64'

export type SysconEvent =
  /** 0x5555: the guest passed / powered off. `code` is 0. */
  | { readonly reason: 'poweroff'; readonly code: 0 }
  /** 0x3333 | code << 16: the guest failed with `code` (QEMU exits with it). */
  | { readonly reason: 'fail'; readonly code: number }
  /** 0x7777: the guest asked for a reset (reboot). */
  | { readonly reason: 'reset'; readonly code: 0 }

export const FINISHER = { FAIL: 0x3333, PASS: 0x5555, RESET: 0x7777 } as const

/** Writes of other values are ignored; reads return 0. */
export class SifiveTest implements MmioDevice {
  readonly name = 'sifive-test'
  readonly size = 0x1000
  constructor(private readonly onEvent: (event: SysconEvent) => void) {}

  read(): bigint {
    return 0n
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    // OpenSBI's sifive_test driver writes 16 bits (writew); QEMU accepts 2- and 4-byte writes.
    if (offset !== 0 || size < 2) return
    const v = Number(value & (size === 2 ? 0xffffn : 0xffff_ffffn))
    let event: SysconEvent | undefined
    switch (v & 0xffff) {
      case FINISHER.PASS:
        event = { reason: 'poweroff', code: 0 }
        break
      case FINISHER.FAIL:
        event = { reason: 'fail', code: v >>> 16 }
        break
      case FINISHER.RESET:
        event = { reason: 'reset', code: 0 }
        break
    }
    if (!event) return
    try {
      this.onEvent(event)
    } catch {
      // the host's hook failing must not fault the guest's store
    }
  }
}
