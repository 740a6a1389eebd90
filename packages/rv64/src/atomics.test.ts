/**
 * LR/SC between harts (issue #12 case 12): harts run in slices, so another hart can store to a
 * reserved word between one hart's LR and its SC. The SC must then fail — the A extension's
 * reservation covers stores by any hart — or an update made in between is silently lost (a lost
 * cmpxchg in Linux: an IPI queued on llist, a timer's state, a lock word).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assemble, createSystem } from './index.js'

const BASE = 0x8000_0000
const WORD = 0x8002_0000

describe('LR/SC across harts', () => {
  it('an SC fails when another hart stored to the reserved word after the LR', () => {
    const sys = createSystem({ harts: 2, ramSize: 1 << 20 })
    const { bytes, symbols } = assemble(`
      li a0, ${WORD}
      csrr t2, mhartid
      bnez t2, other
      lr.d t0, (a0)
    held:
      addi t0, t0, 1
      sc.d t1, t0, (a0)
    done: j done
    other:
      li t0, 100
      sd t0, 0(a0)
    done1: j done1`, { base: BASE })
    sys.bus.writeBytes(BASE, bytes)
    const [h0, h1] = sys.harts as [(typeof sys.harts)[0], (typeof sys.harts)[0]]
    h0.pc = BASE
    h1.pc = BASE
    h0.addBreakpoint(symbols.get('held')!)
    h0.addBreakpoint(symbols.get('done')!)
    h1.addBreakpoint(symbols.get('done1')!)
    expect(h0.run(100).reason).toBe('breakpoint') // after the LR: hart 0 holds the reservation
    expect(h1.run(100).reason).toBe('breakpoint') // hart 1 stores 100 into the reserved word
    expect(sys.bus.read(WORD, 8)).toBe(100n)
    expect(h0.run(100).reason).toBe('breakpoint') // addi, sc.d
    expect(h0.getX(6)).toBe(1n) // t1: the SC failed
    expect(sys.bus.read(WORD, 8)).toBe(100n) // hart 1's store survives
  })

  it('property: N harts incrementing one counter with LR/SC loops and AMOs, in slices of any size, lose no increment', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), (harts, slice, count, word) => {
        const sys = createSystem({ harts, ramSize: 1 << 20, slice })
        const [lr, sc, amo] = word ? ['lr.w', 'sc.w', 'amoadd.w'] : ['lr.d', 'sc.d', 'amoadd.d']
        const { bytes } = assemble(`
          li a0, ${WORD}
          li s1, ${count}
          li a1, 1
          addi a2, a0, 8
        loop:
          beqz s1, done
        retry:
          ${lr} t0, (a0)
          addi t0, t0, 1
          ${sc} t1, t0, (a0)
          bnez t1, retry
          ${amo} zero, a1, (a2)
          addi s1, s1, -1
          j loop
        done:
          csrw mie, zero
        1: wfi; j 1b`, { base: BASE })
        sys.bus.writeBytes(BASE, bytes)
        for (const h of sys.harts) h.pc = BASE
        expect(sys.run(10_000_000).reason).toBe('wfi')
        expect(sys.bus.read(WORD, 8)).toBe(BigInt(harts * count))
        expect(sys.bus.read(WORD + 8, 8)).toBe(BigInt(harts * count))
      }),
      { numRuns: 300 },
    )
  })

  it('a store by the same hart from a compiled block clears the reservation as the interpreter\'s does (the block checks the line map and the reservation before skipping `stored`)', () => {
    const run = (blocks: boolean) => {
      const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 2 })
      const { bytes } = assemble(`
        li a0, ${WORD}
        li s1, 50
        li t3, 7
        lr.d t0, (a0)
      loop:
        addi t4, a0, 64
        sd t3, 0(t4)          # another line: the reservation holds
        addi s1, s1, -1
        bnez s1, loop
        sc.d t1, t3, (a0)     # still reserved: succeeds (t1 = 0)
        lr.d t0, (a0)
        li s1, 50
      loop2:                  # stores to a0 + 64 × (s1 − 1): the reserved word only on the last pass, in the block
        addi t4, s1, -1
        slli t4, t4, 6
        add t4, a0, t4
        sd t3, 0(t4)
        addi s1, s1, -1
        bnez s1, loop2
        sc.d t2, t3, (a0)     # the reservation was cleared: fails (t2 = 1)
      done: j done`, { base: BASE })
      sys.bus.writeBytes(BASE, bytes)
      const h = sys.harts[0]!
      h.pc = BASE
      if (!blocks) h.onTrace = () => {}
      h.run(2000)
      return { t1: h.getX(6), t2: h.getX(7), blocks: (h as unknown as { jitStats: { blocks: number } }).jitStats.blocks }
    }
    const compiled = run(true)
    expect(compiled.blocks).toBeGreaterThan(0)
    expect({ t1: compiled.t1, t2: compiled.t2 }).toEqual({ t1: 0n, t2: 1n })
    const interpreted = run(false)
    expect({ t1: interpreted.t1, t2: interpreted.t2 }).toEqual({ t1: 0n, t2: 1n })
  })
})

