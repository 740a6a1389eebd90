/**
 * The TypeScript SBI's shared state on parallel harts (issue #18, parallel-sbi.ts): HSM starts
 * from several harts' own `Firmware`s over one control block, and the remote-fence protocol,
 * under every interleaving fc.scheduler picks (each step of a hart is atomic, as a call into one
 * thread's Firmware is; the cross-thread atomicity is the compare-and-swap of the state word).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EID, HSM_FID, HsmState, SBI_ERR_ALREADY_AVAILABLE, SBI_SUCCESS } from '@honk/riscv'
import { Firmware, type SbiPlatform, type SbiRegs } from '@honk/sbi'
import { Control } from './parallel-shared.js'
import { FENCE, SharedHsm, fenceAcked, initSharedHsm, postFence, postStart, serveFences, startPosted, takeStart } from './parallel-sbi.js'

const HARTS = 4
const TARGET = 3

/** A hart's Firmware whose platform does what the worker's does for HSM (parallel-worker.ts), nothing else. */
function hartFirmware(ctl: Control): Firmware {
  const platform: SbiPlatform = {
    hartCount: HARTS,
    consolePutchar: () => {},
    consoleGetchar: () => -1,
    isAccessible: () => true,
    readPhysical: (_a, n) => new Uint8Array(n),
    writePhysical: () => {},
    setTimer: () => {},
    sendIpi: () => {},
    clearIpi: () => false,
    remoteFenceI: () => {},
    remoteSfenceVma: () => {},
    hartStart: (id, start, opaque) => postStart(ctl, id, start, opaque),
    hartStop: () => {},
    hartSuspend: () => {},
    systemReset: () => {},
  }
  return new Firmware(platform, { hsmStates: new SharedHsm(ctl) })
}

const regs = (fid: number, a0: bigint, a1 = 0n, a2 = 0n): SbiRegs => ({ a0, a1, a2, a3: 0n, a4: 0n, a5: 0n, a6: BigInt(fid), a7: BigInt(EID.HSM) })

describe('HSM across harts (one Firmware per hart, states in the control block)', () => {
  it('property (fc.scheduler): harts starting the same hart at once — exactly one start succeeds per stopped period, the others get SBI_ERR_ALREADY_AVAILABLE, and the hart starts where the winner said', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 3 }), fc.integer({ min: 1, max: 3 }), async (s, attempts, lifetimes) => {
        const ctl = Control.create()
        initSharedHsm(ctl, [HsmState.STARTED, HsmState.STARTED, HsmState.STARTED, HsmState.STOPPED])
        const successes: { start: bigint; opaque: bigint }[] = []
        const refusals: bigint[] = []
        const taken: { start: bigint; opaque: bigint }[] = []
        let startersLeft = attempts.length
        const starter = async (hart: number, n: number): Promise<void> => {
          const fw = hartFirmware(ctl)
          try {
            for (let k = 0; k < n; k++) {
              await s.schedule(Promise.resolve(), `hart ${hart} starts hart ${TARGET} (#${k})`)
              const start = 0x8000_0000n + BigInt(hart * 0x100 + k * 4)
              const opaque = BigInt(hart * 1000 + k)
              const out = fw.handleEcall(hart, regs(HSM_FID.HART_START, BigInt(TARGET), start, opaque))
              if (out.kind !== 'return') throw new Error(`hart_start returned ${out.kind}`)
              if (out.error === BigInt(SBI_SUCCESS)) successes.push({ start, opaque })
              else refusals.push(out.error)
            }
          } finally {
            startersLeft--
          }
        }
        // The target's worker: takes a start, runs (STARTED), and stops itself again, `lifetimes` times at most.
        const target = async (): Promise<void> => {
          const fw = hartFirmware(ctl)
          let lives = lifetimes
          while (startersLeft > 0 || startPosted(ctl, TARGET)) {
            await s.schedule(Promise.resolve(), `hart ${TARGET} looks for a start`)
            const st = takeStart(ctl, TARGET)
            if (st === undefined) continue
            taken.push(st)
            expect(fw.hartState(TARGET)).toBe(HsmState.START_PENDING)
            await s.schedule(Promise.resolve(), `hart ${TARGET} runs`)
            fw.hartRunning(TARGET)
            if (--lives <= 0) return
            await s.schedule(Promise.resolve(), `hart ${TARGET} stops`)
            expect(fw.handleEcall(TARGET, regs(HSM_FID.HART_STOP, 0n)).kind).toBe('noreturn')
          }
        }
        const tasks = [...attempts.map((n, h) => starter(h, n)), target()]
        await s.waitAll()
        const failed = (await Promise.allSettled(tasks)).find((r) => r.status === 'rejected')
        if (failed) throw failed.reason
        // Every successful start was taken by the hart, in order, with its address and opaque;
        // every other attempt found the hart available (SBI 2.0 §9.1: SBI_ERR_ALREADY_AVAILABLE).
        expect(taken).toEqual(successes)
        expect(successes.length).toBeGreaterThanOrEqual(1)
        expect(successes.length).toBeLessThanOrEqual(lifetimes)
        for (const e of refusals) expect(e).toBe(BigInt(SBI_ERR_ALREADY_AVAILABLE))
        expect(successes.length + refusals.length).toBe(attempts.reduce((a, b) => a + b, 0))
      }),
      { numRuns: 200 },
    )
  })

  it('hart_get_status on any hart answers the shared state: STOPPED, START_PENDING after another hart\'s start, STARTED once it runs', () => {
    const ctl = Control.create()
    initSharedHsm(ctl, [HsmState.STARTED, HsmState.STOPPED])
    const [a, b, c] = [hartFirmware(ctl), hartFirmware(ctl), hartFirmware(ctl)]
    const status = (fw: Firmware): unknown => fw.handleEcall(0, regs(HSM_FID.HART_GET_STATUS, 1n))
    expect(status(b)).toEqual({ kind: 'return', error: 0n, value: BigInt(HsmState.STOPPED) })
    expect(a.handleEcall(0, regs(HSM_FID.HART_START, 1n, 0x8020_0000n, 7n))).toEqual({ kind: 'return', error: 0n, value: 0n })
    expect(status(b)).toEqual({ kind: 'return', error: 0n, value: BigInt(HsmState.START_PENDING) })
    expect(takeStart(ctl, 1)).toEqual({ start: 0x8020_0000n, opaque: 7n })
    c.hartRunning(1)
    expect(status(a)).toEqual({ kind: 'return', error: 0n, value: BigInt(HsmState.STARTED) })
  })
})

describe('remote fences (request and done counters)', () => {
  it('property (fc.scheduler): a caller sees its fence acknowledged only after the target flushed, after the request, for every kind it asked; every request is served', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.array(fc.constantFrom(FENCE.vma, FENCE.i, FENCE.vma | FENCE.i), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        async (s, perCaller) => {
          const ctl = Control.create()
          const T = 0
          // One clock for the whole interleaving: the step at which each event happened.
          let now = 0
          const flushes: { at: number; bits: number }[] = []
          let callersLeft = perCaller.length
          const caller = async (c: number, fences: number[]): Promise<void> => {
            try {
              for (const bits of fences) {
                await s.schedule(Promise.resolve(), `caller ${c} posts ${bits}`)
                const postedAt = ++now
                const ticket = postFence(ctl, T, bits)
                for (;;) {
                  await s.schedule(Promise.resolve(), `caller ${c} checks`)
                  if (fenceAcked(ctl, T, ticket)) break
                }
                // SBI §8: the remote fence is done when the call returns — a flush of every kind asked, after the request.
                let covered = 0
                for (const f of flushes) if (f.at > postedAt) covered |= f.bits
                expect(covered & bits).toBe(bits)
              }
            } finally {
              callersLeft-- // a failed check must not leave the target serving forever
            }
          }
          const target = async (): Promise<void> => {
            while (callersLeft > 0) {
              await s.schedule(Promise.resolve(), 'target serves')
              serveFences(ctl, T, (bits) => flushes.push({ at: ++now, bits }))
            }
          }
          const tasks = [...perCaller.map((f, c) => caller(c + 1, f)), target()]
          await s.waitAll()
          const failed = (await Promise.allSettled(tasks)).find((r) => r.status === 'rejected')
          if (failed) throw failed.reason
          expect(serveFences(ctl, T, () => {})).toBe(false) // nothing left unacknowledged
        },
      ),
      { numRuns: 200 },
    )
  })

  it('a target that flushed before a request does not acknowledge it', () => {
    const ctl = Control.create()
    const t1 = postFence(ctl, 1, FENCE.vma)
    const flushed: number[] = []
    expect(serveFences(ctl, 1, (b) => flushed.push(b))).toBe(true)
    expect(fenceAcked(ctl, 1, t1)).toBe(true)
    const t2 = postFence(ctl, 1, FENCE.i)
    expect(fenceAcked(ctl, 1, t2)).toBe(false)
    expect(serveFences(ctl, 1, (b) => flushed.push(b))).toBe(true)
    expect(fenceAcked(ctl, 1, t2)).toBe(true)
    expect(flushed).toEqual([FENCE.vma, FENCE.i])
  })
})
