/**
 * Boots the guest Linux once per seed, one after the other, and prints one JSON line per boot:
 *   node --conditions=@honk/source --import tsx src/boot-seeds.ts <firmware|builtin> <harts> <seed>...
 * `{ seed, exit, executed, text }` — the whole console, so the caller can check what it wants.
 * The smp system test runs it as a child process: under Node with tsx the hart runs ~3x faster
 * than inside vitest's module transform, which buys that many more boots per minute.
 * A boot that does not power off within `HONK_BOOT_LIMIT` guest instructions (default 1.5 G,
 * ~150 guest seconds) stops and is reported with exit `stopped`.
 */
import { bootLinux } from './guest.js'

const [bios, hartsText, ...seedTexts] = process.argv.slice(2)
if ((bios !== 'firmware' && bios !== 'builtin') || hartsText === undefined || seedTexts.length === 0) {
  process.stderr.write('usage: boot-seeds.ts <firmware|builtin> <harts> <seed>...\n')
  process.exit(2)
}
const limit = Number(process.env['HONK_BOOT_LIMIT'] ?? 1.5e9)
for (const seedText of seedTexts) {
  const seed = Number(seedText)
  const { session, machine } = bootLinux({ bios, harts: Number(hartsText), seed })
  // bootLinux started the loop without a limit; a watchdog on retired instructions stops a hang.
  const watchdog = setInterval(() => {
    if (machine.executed > limit) machine.stop()
  }, 200)
  const exit = await session.exit
  clearInterval(watchdog)
  process.stdout.write(JSON.stringify({ seed, exit, executed: machine.executed, text: session.text }) + '\n')
}
