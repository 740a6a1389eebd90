/**
 * V-mode data at an address beyond ±2^53 (issue #18, the fast memory path for two-stage guests):
 * an ld/sd loop in an Sv57 guest over Sv57x4 at 0xff60… (`wide`) or at 0x4000_0000 (`narrow`),
 * CPU time after a warm-up. `node --conditions=@honk/source --import tsx bench/wide-v.ts wide|narrow [instructions]`
 */
import { createSystem } from '../src/index.ts'
import { RAM, WIDE, guest } from '../src/wide-v.test-helpers.ts'

const system = () => createSystem({ harts: 1, ramSize: RAM, hypervisor: true, sv57: true })
const addr = process.argv[2] === 'narrow' ? 0x4000_0000n : WIDE
const m = guest(system(), `
        li t0, ${addr}
        li t2, 100000000
1:      ld t1, 0(t0)
        addi t1, t1, 1
        sd t1, 8(t0)
        addi t2, t2, -1
        bnez t2, 1b
done:   j done
trap:   j trap`)
const N = Number(process.argv[3] ?? 2e6)
m.hart.run(10000)
const c0 = process.cpuUsage()
m.hart.run(N)
const c = process.cpuUsage(c0)
const s = (c.user + c.system) / 1e6
console.log(process.argv[2] ?? 'wide', (N / s / 1e6).toFixed(2), 'M instr/s', s.toFixed(2), 's CPU')
