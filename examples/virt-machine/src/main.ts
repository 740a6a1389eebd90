/**
 * `pnpm start`. honk mode (the TypeScript kernel and its shell) lands with issue #7; until then
 * this entry point says how to run the machine in bare mode (`honk-virt`), and proves the
 * storage packages work by opening the state disk honk mode will use.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { FileBlockDevice } from '@honk/block/node'
import { openKV } from '@honk/kv'

const stateDir = process.env['HONK_STATE'] ?? '.honk'
await mkdir(stateDir, { recursive: true })
const disk = await FileBlockDevice.open(join(stateDir, 'kv.img'), { blockCount: 64 * 2048 })
const kv = await openKV(disk)
const boots = Number(new TextDecoder().decode((await kv.get('boot-count')) ?? new TextEncoder().encode('0'))) + 1
await kv.put('boot-count', new TextEncoder().encode(String(boots)), { durable: true })
await kv.close()
await disk.close()

console.log(`honk-ts: honk mode (the TypeScript kernel and its shell) is not built yet (issue #7).
  state disk  ${join(stateDir, 'kv.img')} opened with @honk/kv (boot #${boots}, persisted)
  the machine runs today in bare mode, like QEMU, with honk-virt:
    pnpm --filter @honk/virt-machine virt --kernel /usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin
    pnpm --filter @honk/virt-machine virt --help
  see         README.md and docs/STATUS.md for what exists today`)
