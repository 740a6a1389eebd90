import { describe, expect, it } from 'vitest'
import { Bus } from './bus.js'
import { SifiveTest, type SysconEvent } from './devices.js'

describe('SiFive test / syscon', () => {
  it('reports poweroff, failure codes and reset to the host', () => {
    const events: SysconEvent[] = []
    const d = new SifiveTest((e) => events.push(e))
    d.write(0, 4, 0x5555n)
    d.write(0, 4, 0x3333n | (42n << 16n))
    d.write(0, 4, 0x7777n)
    d.write(0, 4, 0x1234n) // not a finisher command
    d.write(4, 4, 0x5555n) // wrong offset
    d.write(0, 2, 0x5555n) // OpenSBI's driver writes 16 bits
    d.write(0, 1, 0x55n) // a byte is too narrow for a command
    expect(events).toEqual([
      { reason: 'poweroff', code: 0 },
      { reason: 'fail', code: 42 },
      { reason: 'reset', code: 0 },
      { reason: 'poweroff', code: 0 },
    ])
    expect(d.read()).toBe(0n)
  })
})

describe('SiFive test on a bare machine', () => {
  it('given the bus, ends its run: pass → 0, fail → its code (1 when 0), reset → -1', () => {
    const exits = (value: bigint, size: 2 | 4 = 4): number | undefined => {
      const bus = new Bus({ ramSize: 4096 })
      new SifiveTest(bus).write(0, size, value)
      return bus.exitCode
    }
    expect([exits(0x5555n), exits(0x3333n | (42n << 16n)), exits(0x3333n), exits(0x7777n), exits(0x1234n), exits(0x5555n, 2)]).toEqual([0, 42, 1, -1, undefined, 0])
  })
})
