/**
 * Issue #17, bare mode: honk-virt offers the H extension when asked with QEMU's spelling,
 * `-cpu rv64,h=true` (or h=on), and then says so in the device tree's riscv,isa as QEMU does
 * ('h' after the single letters: QEMU 7.2's dumpdtb has "rv64imafdch_zicsr_zifencei_…").
 */
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { UsageError, parseCli, withHypervisor } from './cli.js'

describe('honk-virt -cpu rv64,h=true', () => {
  it('h=true and h=on turn the hypervisor extension on, with an ISA string that has the h', () => {
    for (const h of ['true', 'on']) {
      const o = parseCli(['-kernel', 'k', '-cpu', `rv64,h=${h}`])
      expect(o).toMatchObject({ config: { hypervisor: true, isa: 'rv64imafdch_zicsr_zifencei_zba_zbb_zbs_sstc' } })
    }
    for (const argv of [['-kernel', 'k'], ['-kernel', 'k', '-cpu', 'rv64'], ['-kernel', 'k', '-cpu', 'rv64,h=false'], ['-kernel', 'k', '-cpu', 'rv64,h=off']]) {
      const o = parseCli(argv)
      expect(o, argv.join(' ')).not.toHaveProperty('config.hypervisor')
      expect(o, argv.join(' ')).not.toHaveProperty('config.isa')
    }
  })

  it('refuses other models, other properties and values that are not booleans', () => {
    for (const cpu of ['rv32', 'rv64,h=yes', 'rv64,v=true', 'sifive-u54,h=true', 'rv64,h=true,x-foo=1', 'rv64,sstc=maybe'])
      expect(() => parseCli(['-kernel', 'k', '-cpu', cpu]), cpu).toThrow(UsageError)
  })

  it('sstc=false (or off): the device tree offers no Sstc, with or without h; the default and sstc=true offer it', () => {
    for (const [cpu, isa] of [['rv64,sstc=false', 'rv64imafdc_zicsr_zifencei_zba_zbb_zbs'], ['rv64,sstc=off,h=on', 'rv64imafdch_zicsr_zifencei_zba_zbb_zbs']] as const) {
      const o = parseCli(['-kernel', 'k', '-cpu', cpu])
      if (o === 'help' || o === 'version') throw new Error('parsed as help')
      expect(o.config.isa, cpu).toBe(isa)
      const dtb = Buffer.from(new VirtMachine({ ...o.config, consoleOut: () => {} }).deviceTree())
      expect(dtb.includes(`${isa}\0`), cpu).toBe(true)
      expect(dtb.includes('sstc'), cpu).toBe(false)
    }
    const plain = parseCli(['-kernel', 'k'])
    if (plain === 'help' || plain === 'version') throw new Error('parsed as help')
    const dtb = Buffer.from(new VirtMachine({ ...plain.config, consoleOut: () => {} }).deviceTree())
    expect(dtb.includes('rv64imafdc_zicsr_zifencei_zba_zbb_zbs_sstc\0')).toBe(true)
    const o = parseCli(['-kernel', 'k', '-cpu', 'rv64,sstc=true'])
    expect(o).not.toHaveProperty('config.isa')
  })

  it('withHypervisor puts one h after the single-letter extensions', () => {
    expect(withHypervisor('rv64imafdc_zicsr_zifencei')).toBe('rv64imafdch_zicsr_zifencei')
    expect(withHypervisor('rv64imafdch_zicsr')).toBe('rv64imafdch_zicsr')
    expect(withHypervisor('rv64gc')).toBe('rv64gch')
  })

  it('the machine built from -cpu rv64,h=true has harts with H and a device tree whose riscv,isa has the h', () => {
    const o = parseCli(['-kernel', 'k', '-cpu', 'rv64,h=true'])
    if (o === 'help' || o === 'version') throw new Error('parsed as help')
    const m = new VirtMachine({ ...o.config, consoleOut: () => {} })
    expect(m.harts.every((h) => h.hypervisor)).toBe(true)
    const dtb = Buffer.from(m.deviceTree())
    expect(dtb.includes('rv64imafdch_zicsr_zifencei_zba_zbb_zbs_sstc\0')).toBe(true)
  })
})
