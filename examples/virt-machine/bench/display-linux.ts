/**
 * `pnpm --filter @honk/virt-machine bench:display-linux [--quick]`: Linux's fbcon on the web
 * display of honk-virt, with QEMU's VNC display as the peer, in the same run.
 *
 * The same guest on both: the display variant of the repo's Linux 6.1
 * (`scripts/guest/build-linux.sh --variant display`) and the repo's initramfs, 640×480, one
 * hart, 256 MiB, the cursor off (`vt.global_cursor_default=0`: its blinking would be updates
 * nobody asked for), `honk.checks=display honk.type=1 honk.scroll=N` (scripts/guest/init.c):
 *   - typing: letters pressed while the init reads a line from tty1; each is echoed by fbcon.
 *     The latency is from the key sent by the client to the update that changes the pixels of
 *     the character's cell, at the client (honk: a WebSocket client of `--display web`, as the
 *     page; QEMU: an RFB 3.8 client, src/rfb-client.ts, raw + CopyRect, one incremental
 *     request always outstanding).
 *   - scrolling: Enter ends the line; the init then writes N lines to tty1 and fbcon scrolls
 *     the whole console for each. Measured from the Enter key to the last update received
 *     (no update for a second after the guest says it is done): updates per second, bytes
 *     per update, lines per second as the client sees them.
 * The final screens of both are compared (the same kernel draws the same text with the same font).
 * `--honk-only` / `--qemu-only` run one side (e.g. under --cpu-prof). QEMU's key latency here is
 * mostly its VNC server's refresh timer (30 ms, growing by 50 ms per idle refresh), so it depends
 * on how often keys come: about one every 100 ms in this loop.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import WebSocket from 'ws'
import { createFromCli, parseCli, type CliOptions } from '../src/cli.ts'
import { GUEST_CACHE, INITRAMFS } from '../src/guest.ts'
import { RfbClient } from '../src/rfb-client.ts'
import { ConsoleSession } from '../src/session.ts'
import { MSG, WebDisplay } from '../src/web-display.ts'

const quick = process.argv.includes('--quick')
const LINES = quick ? 100 : 500
const KEYS = quick ? 10 : 40
const W = 640
const H = 480
/** fbcon's font at 640×480 is 8×16 (80×30 cells); the prompt "type a line: " is on row 8 after the init's 8 lines. */
const CELL = { w: 8, h: 16, row: 8, firstCol: 13 }
const IMAGE = join(GUEST_CACHE, 'linux-6.1-display', 'arch', 'riscv', 'boot', 'Image')
const APPEND = `console=ttyS0 earlycon=sbi vt.global_cursor_default=0 honk.checks=display honk.type=1 honk.scroll=${LINES}`
const LETTERS = 'asdfghjkl'

if (!existsSync(IMAGE) || !existsSync(INITRAMFS)) {
  process.stderr.write(`bench:display-linux: needs ${IMAGE} and ${INITRAMFS} (scripts/guest/build-linux.sh --variant display, build-initramfs.sh)\n`)
  process.exit(1)
}

interface Update {
  at: number
  bytes: number
}

/** One display as a client sees it, whichever protocol. */
interface Side {
  readonly serial: ConsoleSession
  /** The client's copy of the screen (RGBA; byte 3 unspecified). */
  screen(): Uint8Array
  /** Every update received (honk: each RECT message; VNC: each FramebufferUpdate). */
  readonly updates: Update[]
  /** Screen updates the server sent (honk: sends of damage, each one event-loop turn's rectangles; VNC: FramebufferUpdates). */
  frames(): number
  /** Resolves on the next update received. */
  next(ms: number): Promise<void>
  /** A letter or Enter, pressed and released. */
  press(key: string): void
  /** Ends the run (the init's last read gets Enter, so the guest powers off). */
  finish(): Promise<void>
}

function waiter(): { wake: () => void; next: (ms: number) => Promise<void> } {
  let waiting: (() => void)[] = []
  return {
    wake: () => {
      const w = waiting
      waiting = []
      for (const f of w) f()
    },
    next: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms)
        waiting.push(() => (clearTimeout(t), resolve()))
      }),
  }
}

async function honkSide(): Promise<Side> {
  const options = parseCli(['-kernel', IMAGE, '-initrd', INITRAMFS, '-m', '256M', '-smp', '1', '-append', APPEND, '-device', `virtio-gpu-device,xres=${W},yres=${H}`, '-device', 'virtio-keyboard-device', '-device', 'virtio-tablet-device', '-display', 'none']) as CliOptions
  const serial = new ConsoleSession()
  const { machine, close, display } = await createFromCli(options, serial.out)
  // What honk-virt --display web starts for the run (cli.ts main).
  const web = await WebDisplay.start({ gpu: display.gpu!, keyboard: display.keyboard!, tablet: display.tablet!, title: 'honk-virt' })
  const running = machine.run()
  const ws = new WebSocket(`ws://127.0.0.1:${web.port}/ws`)
  ws.binaryType = 'nodebuffer'
  let rgba = new Uint8Array(W * H * 4)
  let width = W
  const updates: Update[] = []
  const w = waiter()
  ws.on('message', (d: Buffer) => {
    if (d[0] === MSG.MODE) {
      width = d.readUInt16LE(1)
      if (width > 0) rgba = new Uint8Array(width * d.readUInt16LE(3) * 4)
    } else if (d[0] === MSG.RECT) {
      const x = d.readUInt16LE(1)
      const y = d.readUInt16LE(3)
      const rw = d.readUInt16LE(5)
      const rh = d.readUInt16LE(7)
      for (let row = 0; row < rh; row++) rgba.set(d.subarray(9 + row * rw * 4, 9 + (row + 1) * rw * 4), ((y + row) * width + x) * 4)
      updates.push({ at: performance.now(), bytes: d.length })
      w.wake()
    }
  })
  await new Promise((r) => ws.once('open', r))
  const sendKey = (code: string, down: boolean) => {
    const name = new TextEncoder().encode(code)
    const m = new Uint8Array(2 + name.length)
    m[0] = MSG.KEY
    m[1] = down ? 1 : 0
    m.set(name, 2)
    ws.send(m)
  }
  return {
    serial,
    screen: () => rgba,
    updates,
    frames: () => web.stats.frames,
    next: w.next,
    press: (key) => {
      const code = key === 'Enter' ? 'Enter' : `Key${key.toUpperCase()}`
      sendKey(code, true)
      sendKey(code, false)
    },
    finish: async () => {
      sendKey('Enter', true)
      sendKey('Enter', false)
      await running
      ws.close()
      await close()
      await web.close()
    },
  }
}

/** A free VNC display number (port 5900 + n on 127.0.0.1). */
async function freeVncDisplay(): Promise<number> {
  for (let n = 50; n < 100; n++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(5900 + n, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) return n
  }
  throw new Error('no free VNC port in 5950..5999')
}

async function qemuSide(): Promise<Side> {
  const n = await freeVncDisplay()
  const serial = new ConsoleSession()
  // force-legacy=false: QEMU 7.2's virtio-mmio defaults to the legacy interface, and Linux's
  // virtio-gpu needs VIRTIO_F_VERSION_1.
  const q = spawn('qemu-system-riscv64', ['-M', 'virt', '-m', '256M', '-smp', '1', '-nodefaults', '-kernel', IMAGE, '-initrd', INITRAMFS, '-append', APPEND, '-global', 'virtio-mmio.force-legacy=false', '-device', `virtio-gpu-device,xres=${W},yres=${H}`, '-device', 'virtio-keyboard-device', '-device', 'virtio-tablet-device', '-display', `vnc=127.0.0.1:${n}`, '-serial', 'stdio', '-monitor', 'none'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => q.once('exit', () => resolve()))
  q.stdout.on('data', (d: Buffer) => {
    for (const b of d) serial.out(b)
  })
  let vnc: RfbClient | undefined
  for (let i = 0; !vnc; i++) {
    try {
      vnc = await RfbClient.connect(5900 + n)
    } catch (e) {
      if (i > 100) throw e
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const client = vnc
  const w = waiter()
  client.onUpdate = () => w.wake()
  // X keysyms (the RFB key events): Latin-1 letters are their code; Return is 0xff0d.
  const keysym = (key: string) => (key === 'Enter' ? 0xff0d : key.charCodeAt(0))
  return {
    serial,
    screen: () => client.rgba,
    updates: client.updates,
    frames: () => client.updates.length,
    next: w.next,
    press: (key) => {
      client.key(keysym(key), true)
      client.key(keysym(key), false)
    },
    finish: async () => {
      client.key(0xff0d, true)
      client.key(0xff0d, false)
      await exited
      client.close()
    },
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(2)
}

/** Waits until no update arrived for `ms`. */
async function quiet(side: Side, ms: number): Promise<void> {
  for (;;) {
    const n = side.updates.length
    await new Promise((r) => setTimeout(r, ms))
    if (side.updates.length === n) return
  }
}

function cell(rgba: Uint8Array, col: number): Uint8Array {
  const out = new Uint8Array(CELL.w * CELL.h * 3)
  let o = 0
  for (let y = 0; y < CELL.h; y++)
    for (let x = 0; x < CELL.w; x++) {
      const i = ((CELL.row * CELL.h + y) * W + col * CELL.w + x) * 4
      out[o++] = rgba[i]!
      out[o++] = rgba[i + 1]!
      out[o++] = rgba[i + 2]!
    }
  return out
}

async function measure(name: string, side: Side) {
  const boot0 = performance.now()
  await side.serial.waitFor('honk-init: display: waiting for a line on tty1', 600_000)
  const bootSeconds = (performance.now() - boot0) / 1000
  await quiet(side, 500)

  // Typing: key → the update that changes the echoed character's cell.
  const latency: number[] = []
  let typeBytes = 0
  let typeUpdates = 0
  for (let i = 0; i < KEYS; i++) {
    const col = CELL.firstCol + i
    const before = cell(side.screen(), col)
    const u0 = side.updates.length
    const t0 = performance.now()
    side.press(LETTERS[i % LETTERS.length]!)
    for (;;) {
      await side.next(10_000)
      if (Buffer.compare(Buffer.from(cell(side.screen(), col)), Buffer.from(before)) !== 0) break
      if (performance.now() - t0 > 10_000) throw new Error(`${name}: key ${i} never changed its cell`)
    }
    latency.push(side.updates.at(-1)!.at - t0)
    await quiet(side, 100)
    for (const u of side.updates.slice(u0)) typeBytes += u.bytes
    typeUpdates += side.updates.length - u0
  }

  // Scrolling: Enter, then the init writes LINES lines.
  const u0 = side.updates.length
  const f0 = side.frames()
  const t0 = performance.now()
  side.press('Enter')
  await side.serial.waitFor(`honk-init: display: scrolled ${LINES} lines`, 600_000)
  const guestMs = Number(/scroll took \(ms\) (\d+)/.exec(await side.serial.waitFor(/scroll took \(ms\) \d+/, 60_000))![1])
  await quiet(side, 1000)
  const seconds = (side.updates.at(-1)!.at - t0) / 1000
  const scrollUpdates = side.updates.slice(u0)
  const frames = side.frames() - f0
  const bytes = scrollUpdates.reduce((n, u) => n + u.bytes, 0)
  const screen = side.screen().slice()
  await side.serial.waitFor('display: waiting for a line after the scroll', 60_000)
  await side.finish()
  return {
    screen,
    result: {
      bootToPromptSeconds: +bootSeconds.toFixed(1),
      typing: { keys: KEYS, latencyMs: { p50: pct(latency, 0.5), p95: pct(latency, 0.95), max: pct(latency, 1) }, bytesPerKey: Math.round(typeBytes / KEYS), updatesPerKey: +(typeUpdates / KEYS).toFixed(2) },
      scroll: {
        lines: LINES,
        guestClockMs: guestMs, // the guest's own measure of its writes (honk-virt's clock is virtual: not wall time)
        secondsToLastUpdate: +seconds.toFixed(3),
        linesPerSecond: +(LINES / seconds).toFixed(1),
        frames,
        framesPerSecond: +(frames / seconds).toFixed(1),
        bytesPerFrame: Math.round(bytes / Math.max(1, frames)),
        messages: scrollUpdates.length,
        megabytes: +(bytes / 1e6).toFixed(2),
      },
    },
  }
}

if (process.argv.includes('--honk-only')) {
  process.stdout.write(JSON.stringify((await measure('honk-virt', await honkSide())).result, null, 2) + '\n')
  process.exit(0)
}
if (process.argv.includes('--qemu-only')) {
  process.stdout.write(JSON.stringify((await measure('qemu', await qemuSide())).result, null, 2) + '\n')
  process.exit(0)
}
const honk = await measure('honk-virt', await honkSide())
const qemu = await measure('qemu', await qemuSide())
let differing = 0
for (let i = 0; i < W * H * 4; i += 4) if (honk.screen[i] !== qemu.screen[i] || honk.screen[i + 1] !== qemu.screen[i + 1] || honk.screen[i + 2] !== qemu.screen[i + 2]) differing++
const h = honk.result
const q = qemu.result
const qemuVersion = /version (\S+)/.exec(spawnSync('qemu-system-riscv64', ['--version'], { encoding: 'utf8' }).stdout)?.[1]
const out = {
  guest: `Linux 6.1 display variant, ${W}x${H}, 1 hart, fbcon (8x16 font, 80x30)`,
  append: APPEND,
  honkVirt: { display: '--display web (WebSocket client)', ...h },
  qemu: { version: qemuVersion, display: '-display vnc (RFB 3.8 client: raw + CopyRect)', ...q },
  ratios: {
    note: 'honk-virt / QEMU (above 1: honk-virt is more)',
    scrollLinesPerSecond: +(h.scroll.linesPerSecond / q.scroll.linesPerSecond).toFixed(3),
    scrollFramesPerSecond: +(h.scroll.framesPerSecond / q.scroll.framesPerSecond).toFixed(3),
    scrollBytesPerFrame: +(h.scroll.bytesPerFrame / q.scroll.bytesPerFrame).toFixed(3),
    scrollBytesTotal: +(h.scroll.megabytes / q.scroll.megabytes).toFixed(3),
    keyLatencyP50: +(h.typing.latencyMs.p50 / q.typing.latencyMs.p50).toFixed(3),
    keyLatencyP95: +(h.typing.latencyMs.p95 / q.typing.latencyMs.p95).toFixed(3),
    bytesPerKey: +(h.typing.bytesPerKey / q.typing.bytesPerKey).toFixed(3),
  },
  finalScreensDifferInPixels: differing,
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n')
process.exit(0)
