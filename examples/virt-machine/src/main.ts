/**
 * `pnpm start`. The machine itself (harts, devices, firmware, the honk kernel and its shell)
 * lands with the machine issues; until then this entry point says what exists and what it will
 * do, and proves the storage packages work by opening the state disk the machine will use.
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

console.log(`honk-ts: the virt machine is not assembled yet.
  state disk  ${join(stateDir, 'kv.img')} opened with @honk/kv (boot #${boots}, persisted)
  planned     4 harts, 512 MiB, U-Boot/Linux in bare mode, the honk kernel and shell in honk mode
  see         docs/STATUS.md for what exists today`)
