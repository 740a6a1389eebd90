/**
 * `node --conditions=@honk/source --import tsx bench/firmware-count.ts [--harts N] [--dtb file.dtb]`
 * (issue #18): how many instructions Debian's OpenSBI fw_jump runs in M-mode before hart 0 first
 * runs S-mode code (its cold boot: device-tree parsing, domains, per-hart set-up), on each hart,
 * booting the repo's Linux. A count, not a timing (a trace hook sees every instruction). `--dtb`
 * hands the firmware another device tree (QEMU's: `qemu-system-riscv64 -M virt,dumpdtb=q.dtb
 * -m 256M -smp N -nographic -bios none`), to tell the firmware's work from our tree's.
 */
import { readFileSync } from 'node:fs'
import { bootLinux } from '../src/guest.ts'
import { VirtMachine } from '../src/board.ts'

const argAt = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined)
const harts = Number(argAt('--harts') ?? 1)
if (!Number.isInteger(harts) || harts < 1 || harts > 8) {
  console.error('--harts wants 1–8')
  process.exit(2)
}
const dtbFile = argAt('--dtb')
if (dtbFile !== undefined) {
  let dtb: Uint8Array
  try {
    dtb = new Uint8Array(readFileSync(dtbFile))
  } catch (e) {
    console.error(`--dtb: ${(e as Error).message}`)
    process.exit(2)
  }
  const size = dtb.length >= 8 ? new DataView(dtb.buffer, dtb.byteOffset).getUint32(4) : 0 // totalsize (big-endian)
  if (new DataView(dtb.buffer, dtb.byteOffset).getUint32(0) !== 0xd00dfeed || size > dtb.length) {
    console.error(`--dtb: ${dtbFile} is not a flattened device tree`)
    process.exit(2)
  }
  VirtMachine.prototype.deviceTree = () => dtb.slice(0, size)
}
const { session, machine } = bootLinux({ bios: 'firmware', harts })
const counts = machine.harts.map(() => 0)
let done = false
let finish: () => void = () => {}
const firstS = new Promise<void>((resolve) => (finish = resolve))
machine.harts.forEach((hart, i) => {
  const h = hart as unknown as { onTrace: ((pc: number) => void) | undefined; privilege: number }
  h.onTrace = () => {
    if (done) return
    if (h.privilege === 3) counts[i]!++
    else if (i === 0) {
      done = true
      finish()
    }
  }
})
await Promise.race([firstS, new Promise((r) => setTimeout(r, 120_000))])
console.log(`OpenSBI fw_jump, ${harts} hart${harts > 1 ? 's' : ''}, ${dtbFile ? `device tree ${dtbFile}` : "our board's device tree"}: M-mode instructions before hart 0's first S-mode one: ${counts.map((c, i) => `hart ${i} ${c}`).join(', ')}${done ? '' : ' (hart 0 never reached S-mode within 120 s)'}`)
machine.stop()
await session.exit
process.exit(0)
