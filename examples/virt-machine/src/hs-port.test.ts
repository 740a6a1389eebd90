/**
 * The HS port on a real machine: the shim booted by the TypeScript SBI, SBI calls executed as
 * `ecall`s on the hart, secondaries started through HSM arriving at the entry, an IPI trapping on
 * each secondary, an EBREAK raised on the boot hart, and a PLIC interrupt from the UART.
 */
import { CSR, SSTATUS, VIRT_IRQ, VIRT_MAP } from '@honk/riscv'
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { MachineHsPort, hsShim } from './hs-port.js'
import { HartPortError, MachineStopping, PlicDriver, Sbi, UartConsole, type SupervisorTrap } from '@honk/kernel'

function machine(harts: number) {
  const out: number[] = []
  let port: MachineHsPort | undefined
  const m = new VirtMachine({ harts, memory: 64 << 20, bios: 'builtin', clock: 'realtime', consoleOut: (b) => out.push(b), rng: false, onBreakpoint: (h) => port?.onBreakpoint(h) })
  const booted = new Promise<MachineHsPort>((resolve) => {
    port = new MachineHsPort(m, resolve)
  })
  boot(m, { kernel: hsShim().bytes })
  const text = () => new TextDecoder().decode(Uint8Array.from(out))
  return { m, booted, text }
}

describe('MachineHsPort', () => {
  it('hands the boot hart over with the device tree, runs SBI calls, starts secondaries, delivers IPIs and exceptions', async () => {
    const { m, booted, text } = machine(3)
    const traps: SupervisorTrap[] = []
    const arrived: number[] = []
    const running = m.run()
    const port = await booted
    expect(port.bootHart).toBe(0)
    expect(port.dtbAddress).toBe(VIRT_MAP.ram.base + (64 << 20) - (2 << 20))
    port.attach({ trap: (t) => {
      traps.push(t)
      if (t.interrupt && t.code === 1) port.csrWrite(t.hart, 0x144, port.csrRead(t.hart, 0x144) & ~2n) // clear sip.SSIP
    }, hartArrived: (h) => {
      arrived.push(h)
      port.csrWrite(h, 0x104, 2n) // sie.SSIE
      port.csrWrite(h, 0x100, port.csrRead(h, 0x100) | 2n) // sstatus.SIE
    } })
    const sbi = new Sbi(port, 0)
    sbi.print('hi\n')
    expect(text()).toBe('hi\r\n')
    expect(sbi.specVersion()).toEqual({ major: 2, minor: 0 })
    expect(sbi.hartStatus(1)).toBe('stopped')
    sbi.hartStart(1, port.secondaryEntry, 1n)
    sbi.hartStart(2, port.secondaryEntry, 2n)
    await until(() => arrived.length === 2)
    expect(arrived.sort()).toEqual([1, 2])
    expect(sbi.hartStatus(2)).toBe('started')
    sbi.sendIpi([1, 2])
    await until(() => traps.length >= 2)
    expect(traps.map((t) => [t.hart, t.interrupt, t.code]).sort()).toEqual([[1, true, 1], [2, true, 1]])
    await new Promise((r) => setTimeout(r, 20))
    expect(traps).toHaveLength(2) // cleared in the handler: no second trap

    traps.length = 0
    port.raiseBreakpoint(0)
    await until(() => traps.length >= 1) // sret returns to the ebreak: the kernel powers off on an exception
    expect(traps[0]).toMatchObject({ hart: 0, interrupt: false, code: 3 })
    expect(Number(traps[0]!.sepc)).toBe(hsShim().at('fault'))

    expect(() => sbi.systemReset(0)).toThrow(MachineStopping) // SRST does not return
    await expect(running).resolves.toEqual({ reason: 'poweroff', code: 0 })
  })

  it('CSR access is what S-mode code may do: S-level and permitted counters work; M-level CSRs and writes to read-only ones are refused (issue 13)', async () => {
    const { m, booted } = machine(1)
    const running = m.run()
    const port = await booted
    expect(port.csrRead(0, CSR.sstatus) & SSTATUS.SIE).toBe(0n) // the shim's entry turned S interrupts off
    port.csrWrite(0, CSR.sscratch, 0x1234n)
    expect(port.csrRead(0, CSR.sscratch)).toBe(0x1234n)
    expect(typeof port.csrRead(0, CSR.time)).toBe('bigint') // mcounteren.TM is set by the firmware
    expect(() => port.csrRead(0, CSR.mstatus)).toThrow(/csrr 0x300 would trap at S level/)
    expect(() => port.csrWrite(0, CSR.mtvec, 0n)).toThrow(HartPortError)
    expect(() => port.csrWrite(0, CSR.time, 0n)).toThrow(/csrw 0xc01 would trap/) // read-only (bits 11:10 = 0b11)
    expect(() => port.csrRead(0, 0x5ff)).toThrow(HartPortError) // no such CSR
    m.stop()
    await running
  })

  it('takes a UART receive interrupt through the PLIC into the kernel handler', async () => {
    const { m, booted } = machine(1)
    const running = m.run()
    const port = await booted
    const plic = new PlicDriver(port, VIRT_MAP.plic.base, 1)
    const uart = new UartConsole(port, VIRT_MAP.uart.base)
    let traps = 0
    port.attach({ trap: (t) => {
      traps++
      if (t.interrupt && t.code === 9) plic.service()
    }, hartArrived: () => {} })
    plic.enable(VIRT_IRQ.uart, () => uart.onInterrupt())
    uart.enableReceive()
    port.csrWrite(0, 0x104, 1n << 9n)
    port.csrWrite(0, 0x100, port.csrRead(0, 0x100) | 2n)
    m.input('ab')
    expect(await uart.input.receive()).toBe(0x61)
    expect(await uart.input.receive()).toBe(0x62)
    expect(traps).toBeGreaterThanOrEqual(1)
    expect(plic.counts.get(VIRT_IRQ.uart)).toBeGreaterThanOrEqual(1)
    m.stop()
    await running
  })
})

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}
