/**
 * `--display web`: the machine's screen and serial console in a browser page, served on
 * 127.0.0.1 only. The page holds a canvas (the scanout) and an xterm.js terminal (the serial
 * console) side by side; one WebSocket carries both ways:
 *
 * server → page (binary, first byte the type; numbers little-endian u16):
 *   0x01 RECT  x, y, w, h, then w·h·4 bytes RGBA — a damaged rectangle of the scanout
 *   0x02 MODE  w, h — the scanout's size (sent first, and when it changes)
 *   0x03 TEXT  bytes the guest wrote to its console
 * page → server:
 *   0x10 KEY     down (u8), then the DOM `KeyboardEvent.code` (ASCII) → Linux KEY_* (keyCodeFromDom)
 *   0x11 MOVE    x, y in scanout pixels → the tablet (moveToPixel)
 *   0x12 BUTTON  DOM button (u8), down (u8) → BTN_* (buttonFromDom)
 *   0x13 WHEEL   clicks (i8), horizontal (u8)
 *   0x14 INPUT   bytes typed into the terminal → the console
 *
 * Only damaged rectangles travel: each RESOURCE_FLUSH's rectangle is queued and the queue is
 * sent once per event-loop turn (rectangles inside another are dropped; past
 * {@link MAX_RECTS_PER_SEND} they are merged into their bounding box), each shrunk to the pixels
 * that really changed since the last send. Nothing is compressed:
 * on loopback the copy is cheaper than an encoder, and the browser paints a rectangle with one
 * putImageData. Reusable by bare mode: it needs only the three device models.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { buttonFromDom, keyCodeFromDom, type Rect, type VirtioGpu, type VirtioKeyboard, type VirtioTablet } from '@honk/virtio'
import { WebSocketServer, type WebSocket } from 'ws'

export const MSG = { RECT: 0x01, MODE: 0x02, TEXT: 0x03, KEY: 0x10, MOVE: 0x11, BUTTON: 0x12, WHEEL: 0x13, INPUT: 0x14 } as const
/** More queued rectangles than this are sent as their bounding box. */
export const MAX_RECTS_PER_SEND = 32
/** Console output kept for a page that connects later (its terminal starts with it). */
export const CONSOLE_HISTORY = 64 << 10
/** A page whose socket holds more unsent bytes than this gets a full frame later instead of more rectangles. */
const MAX_BUFFERED = 32 << 20

export interface WebDisplayOptions {
  readonly gpu: VirtioGpu
  readonly keyboard: VirtioKeyboard
  readonly tablet: VirtioTablet
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number
  /** Bytes typed into the page's terminal (the serial console's input). */
  readonly consoleInput?: (bytes: Uint8Array) => void
  /** The page's title. */
  readonly title?: string
}

export interface WebDisplayStats {
  /** Sends of damage (one per event-loop turn with damage) and the RECT messages and bytes in them. */
  frames: number
  rects: number
  bytes: number
}

export class WebDisplay {
  readonly stats: WebDisplayStats = { frames: 0, rects: 0, bytes: 0 }
  private readonly clients = new Set<WebSocket>()
  private damage: Rect[] = []
  private scheduled = false
  private text: Uint8Array[] = []
  private textScheduled = false
  /** The scanout as the pages have it (what was last sent), to send only pixels that changed. */
  private shadow: Uint8Array | undefined
  private undiffed = false
  /** Pages skipped for being too far behind: they get the whole screen when they have drained. */
  private readonly stale = new Set<WebSocket>()
  private readonly history = new Uint8Array(CONSOLE_HISTORY)
  private historyEnd = 0
  private historyBytes = 0
  /** The scanout size last announced to the pages. */
  private mode = ''
  private unsubscribe: () => void
  private options: WebDisplayOptions

  private constructor(
    options: WebDisplayOptions,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    this.options = options
    this.unsubscribe = this.subscribe()
    wss.on('connection', (ws) => this.connected(ws))
  }

  /**
   * Follows another machine's devices (a reboot makes new ones): the pages get its mode and its
   * whole screen — not diffed against the old machine's picture, which they still show — or,
   * while its scanout is off, a 0×0 mode (a blank canvas) until the guest sets one.
   */
  attach(devices: Pick<WebDisplayOptions, 'gpu' | 'keyboard' | 'tablet'>): void {
    this.unsubscribe()
    this.options = { ...this.options, ...devices }
    this.unsubscribe = this.subscribe()
    this.mode = ''
    this.shadow = undefined
    const d = devices.gpu.display(0)
    this.queue({ x: 0, y: 0, width: d.scanoutWidth, height: d.scanoutHeight })
  }

  private subscribe(): () => void {
    return this.options.gpu.onFlush((f) => {
      if (f.scanout === 0) this.queue(f.rect)
    })
  }

  /** Starts the server on 127.0.0.1. */
  static async start(options: WebDisplayOptions): Promise<WebDisplay> {
    const page = pageHtml(options.title ?? 'honk')
    const require = createRequire(import.meta.url)
    const assets = new Map<string, { type: string; body: Buffer }>([
      ['/xterm.js', { type: 'text/javascript', body: readFileSync(require.resolve('@xterm/xterm/lib/xterm.js')) }],
      ['/xterm.css', { type: 'text/css', body: readFileSync(require.resolve('@xterm/xterm/css/xterm.css')) }],
    ])
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0]!
      const asset = assets.get(path)
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        res.end(page)
      } else if (asset) {
        res.writeHead(200, { 'content-type': asset.type })
        res.end(asset.body)
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('not found\n')
      }
    })
    const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 << 10 })
    // ws re-emits the HTTP server's errors on itself: without a listener a busy port would be an
    // uncaught exception. The listen error is reported by the promise below.
    wss.on('error', () => undefined)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    return new WebDisplay(options, server, wss, (server.address() as AddressInfo).port)
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`
  }

  /** Bytes the guest wrote to its console: shown in the page's terminal (batched per event-loop turn). */
  consoleOutput(bytes: Uint8Array): void {
    this.remember(bytes)
    if (this.clients.size === 0) return
    this.text.push(bytes)
    if (this.textScheduled) return
    this.textScheduled = true
    setImmediate(() => {
      this.textScheduled = false
      const total = this.text.reduce((n, b) => n + b.length, 0)
      const msg = new Uint8Array(1 + total)
      msg[0] = MSG.TEXT
      let o = 1
      for (const b of this.text) (msg.set(b, o), (o += b.length))
      this.text = []
      for (const ws of this.clients) ws.send(msg)
    })
  }

  /** Keeps the last {@link CONSOLE_HISTORY} bytes of console output (a ring) for a page that opens later. */
  private remember(bytes: Uint8Array): void {
    for (let i = Math.max(0, bytes.length - CONSOLE_HISTORY); i < bytes.length; i++) {
      this.history[this.historyEnd] = bytes[i]!
      this.historyEnd = (this.historyEnd + 1) % CONSOLE_HISTORY
      if (this.historyBytes < CONSOLE_HISTORY) this.historyBytes++
    }
  }

  async close(): Promise<void> {
    this.unsubscribe()
    for (const ws of this.clients) ws.terminate()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private connected(ws: WebSocket): void {
    this.clients.add(ws)
    ws.on('close', () => (this.clients.delete(ws), this.stale.delete(ws)))
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.input(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    })
    const d = this.options.gpu.display(0)
    this.mode = `${d.scanoutWidth}x${d.scanoutHeight}`
    ws.send(mode(d.scanoutWidth, d.scanoutHeight))
    if (d.scanoutWidth > 0) {
      // Whole, from the scanout as it is now. The next send goes undiffed: the damage queued
      // before this page joined must reach the other pages whole (the shadow restarts here).
      ws.send(this.rectMessage(d.rgba, d.scanoutWidth, { x: 0, y: 0, width: d.scanoutWidth, height: d.scanoutHeight }))
      this.shadow = d.rgba.slice()
      this.undiffed = true
    }
    if (this.historyBytes > 0) {
      const msg = new Uint8Array(1 + this.historyBytes)
      msg[0] = MSG.TEXT
      const start = (this.historyEnd - this.historyBytes + CONSOLE_HISTORY) % CONSOLE_HISTORY
      const first = this.history.subarray(start, Math.min(CONSOLE_HISTORY, start + this.historyBytes))
      msg.set(first, 1)
      msg.set(this.history.subarray(0, this.historyBytes - first.length), 1 + first.length)
      ws.send(msg)
    }
  }

  /** One message from a page; malformed ones are ignored (the page is not trusted to be ours). */
  private input(m: Uint8Array): void {
    const v = new DataView(m.buffer, m.byteOffset, m.byteLength)
    const { keyboard, tablet } = this.options
    switch (m[0]) {
      case MSG.KEY: {
        if (m.length < 3) return
        const code = keyCodeFromDom(new TextDecoder().decode(m.subarray(2)))
        if (code !== undefined) keyboard.key(code, m[1] === 1)
        return
      }
      case MSG.MOVE: {
        if (m.length < 5) return
        const d = this.options.gpu.display(0)
        if (d.scanoutWidth > 0) tablet.moveToPixel(v.getUint16(1, true), v.getUint16(3, true), d.scanoutWidth, d.scanoutHeight)
        return
      }
      case MSG.BUTTON: {
        if (m.length < 3) return
        const code = buttonFromDom(m[1]!)
        if (code !== undefined) tablet.button(code, m[2] === 1)
        return
      }
      case MSG.WHEEL:
        if (m.length >= 3) tablet.wheel(v.getInt8(1), m[2] === 1)
        return
      case MSG.INPUT:
        this.options.consoleInput?.(m.slice(1))
        return
    }
  }

  private queue(r: Rect): void {
    if (this.clients.size === 0) return
    this.damage.push(r)
    if (this.scheduled) return
    this.scheduled = true
    // One send per event-loop turn: flushes of one guest redraw travel together.
    setImmediate(() => {
      this.scheduled = false
      const rects = coalesce(this.damage)
      this.damage = []
      const d = this.options.gpu.display(0)
      const open = [...this.clients].filter((ws) => ws.readyState === ws.OPEN)
      const size = `${d.scanoutWidth}x${d.scanoutHeight}`
      if (size !== this.mode) {
        // Scanout set, resized or disabled (SET_SCANOUT): the mode travels before any pixels.
        this.mode = size
        this.shadow = undefined
        for (const ws of open) ws.send(mode(d.scanoutWidth, d.scanoutHeight))
      }
      this.sendRects(open, rects, !this.undiffed)
      this.undiffed = false
    })
  }

  /**
   * Sends each rectangle, shrunk to the part whose pixels differ from what the pages already
   * show (`shadow`, a copy of the scanout as last sent): the toolkit damages a whole text field
   * for one typed character; the page needs the glyph. With `diff` false (a page just joined, or
   * the mode changed) the rectangles go whole. A page too far behind is skipped and gets the
   * whole screen once it has drained.
   */
  private sendRects(to: readonly WebSocket[], rects: readonly Rect[], diff = true): void {
    if (rects.length === 0 || to.length === 0) return
    const { gpu } = this.options
    const d = gpu.display(0)
    const w = d.scanoutWidth
    if (!this.shadow || this.shadow.length !== d.rgba.length) {
      this.shadow = d.rgba.slice()
      diff = false
    }
    const ready = to.filter((ws) => {
      if (ws.bufferedAmount > MAX_BUFFERED) return (this.stale.add(ws), false)
      if (!this.stale.has(ws)) return true
      this.stale.delete(ws)
      ws.send(this.rectMessage(d.rgba, w, { x: 0, y: 0, width: w, height: d.scanoutHeight }))
      return false // it now has the whole current screen
    })
    let sent = false
    for (const r0 of rects) {
      let r = clip(r0, w, d.scanoutHeight)
      if (!r) continue
      if (diff) {
        r = changed(d.rgba, this.shadow, w, r)
        if (!r) continue
      }
      for (let y = r.y; y < r.y + r.height; y++) {
        const o = (y * w + r.x) * 4
        this.shadow.set(d.rgba.subarray(o, o + r.width * 4), o)
      }
      const msg = this.rectMessage(d.rgba, w, r)
      sent = true
      this.stats.rects++
      this.stats.bytes += msg.length
      for (const ws of ready) ws.send(msg)
    }
    if (sent) this.stats.frames++
  }

  private rectMessage(rgba: Uint8Array, w: number, r: Rect): Uint8Array {
    const msg = new Uint8Array(9 + r.width * r.height * 4)
    const v = new DataView(msg.buffer)
    msg[0] = MSG.RECT
    v.setUint16(1, r.x, true)
    v.setUint16(3, r.y, true)
    v.setUint16(5, r.width, true)
    v.setUint16(7, r.height, true)
    for (let y = 0; y < r.height; y++) {
      const o = ((r.y + y) * w + r.x) * 4
      msg.set(rgba.subarray(o, o + r.width * 4), 9 + y * r.width * 4)
    }
    return msg
  }
}

/** The smallest rectangle inside `r` holding every pixel where `now` and `was` differ (undefined: none). */
export function changed(now: Uint8Array, was: Uint8Array, w: number, r: Rect): Rect | undefined {
  let y0 = -1
  let y1 = -1
  let x0 = r.x + r.width
  let x1 = r.x - 1
  const rowBytes = r.width * 4
  for (let y = r.y; y < r.y + r.height; y++) {
    const o = (y * w + r.x) * 4
    const a = Buffer.from(now.buffer, now.byteOffset + o, rowBytes)
    if (a.equals(Buffer.from(was.buffer, was.byteOffset + o, rowBytes))) continue
    if (y0 < 0) y0 = y
    y1 = y
    let first = 0
    while (first < rowBytes && now[o + first] === was[o + first]) first++
    let last = rowBytes - 1
    while (last > first && now[o + last] === was[o + last]) last--
    x0 = Math.min(x0, r.x + (first >> 2))
    x1 = Math.max(x1, r.x + (last >> 2))
  }
  return y0 < 0 ? undefined : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }
}

function mode(w: number, h: number): Uint8Array {
  const m = new Uint8Array(5)
  m[0] = MSG.MODE
  new DataView(m.buffer).setUint16(1, w, true)
  new DataView(m.buffer).setUint16(3, h, true)
  return m
}

function clip(r: Rect, w: number, h: number): Rect | undefined {
  const x = Math.max(0, r.x)
  const y = Math.max(0, r.y)
  const width = Math.min(w, r.x + r.width) - x
  const height = Math.min(h, r.y + r.height) - y
  return width > 0 && height > 0 ? { x, y, width, height } : undefined
}

/** Drops empty rectangles and those inside another; past {@link MAX_RECTS_PER_SEND}, their bounding box. */
export function coalesce(rects: readonly Rect[]): Rect[] {
  const inside = (a: Rect, b: Rect) => a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height
  const real = rects.filter((r) => r.width > 0 && r.height > 0)
  // A rectangle goes when another holds it (of two equal ones, the later goes).
  const kept = real.filter((r, i) => !real.some((o, j) => j !== i && inside(r, o) && (!inside(o, r) || j < i)))
  if (kept.length <= MAX_RECTS_PER_SEND) return kept
  const x0 = Math.min(...kept.map((r) => r.x))
  const y0 = Math.min(...kept.map((r) => r.y))
  const x1 = Math.max(...kept.map((r) => r.x + r.width))
  const y1 = Math.max(...kept.map((r) => r.y + r.height))
  return [{ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }]
}

/** The page: canvas + terminal, the protocol's client side, and `window.honk` counters for tests. */
function pageHtml(title: string): string {
  const esc = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc}</title>
<link rel="stylesheet" href="/xterm.css">
<style>
  html, body { margin: 0; background: #1e1e2e; color: #ccc; font: 13px monospace; }
  main { display: flex; gap: 12px; padding: 12px; align-items: flex-start; }
  #screen { image-rendering: pixelated; outline: 1px solid #555; cursor: crosshair; max-width: 70vw; }
  #screen:focus { outline: 2px solid #89b4fa; }
  #term { width: 640px; height: 480px; }
  #status { padding: 0 12px; }
</style></head>
<body>
<div id="status">connecting…</div>
<main><canvas id="screen" tabindex="0" width="640" height="480"></canvas><div id="term"></div></main>
<script src="/xterm.js"></script>
<script>
(() => {
  const canvas = document.getElementById('screen')
  const ctx = canvas.getContext('2d')
  const status = document.getElementById('status')
  const honk = (window.honk = { rects: 0, modes: 0, connected: false, onRect: null })
  const term = new Terminal({ cols: 80, rows: 30, convertEol: false, fontSize: 13 })
  term.open(document.getElementById('term'))
  honk.term = term
  // The socket reconnects when it closes (honk-virt stopped and started again on the same
  // port): the server sends the mode, the whole screen and the console's history again, so the
  // terminal starts over from that history.
  let ws
  let retry = 250
  honk.connects = 0
  const send = (bytes) => { if (ws.readyState === 1) ws.send(bytes) }
  const onMessage = (ev) => {
    const b = new Uint8Array(ev.data)
    const v = new DataView(ev.data)
    if (b[0] === 1) {
      const x = v.getUint16(1, true), y = v.getUint16(3, true), w = v.getUint16(5, true), h = v.getUint16(7, true)
      ctx.putImageData(new ImageData(new Uint8ClampedArray(ev.data, 9, w * h * 4), w, h), x, y)
      honk.rects++
      if (honk.onRect) honk.onRect()
    } else if (b[0] === 2) {
      const w = v.getUint16(1, true), h = v.getUint16(3, true)
      if (w > 0 && (canvas.width !== w || canvas.height !== h)) { canvas.width = w; canvas.height = h }
      if (w === 0) ctx.clearRect(0, 0, canvas.width, canvas.height)
      honk.modes++
    } else if (b[0] === 3) {
      term.write(b.subarray(1))
    }
  }
  const connect = () => {
    ws = new WebSocket('ws://' + location.host + '/ws')
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => {
      honk.connected = true
      retry = 250
      if (honk.connects++ > 0) term.reset()
      status.textContent = 'connected — click the screen to type into it; the terminal is the serial console'
    }
    ws.onclose = () => {
      const was = honk.connected
      honk.connected = false
      status.textContent = was ? 'disconnected (the machine stopped) — reconnecting…' : status.textContent
      setTimeout(connect, retry)
      retry = Math.min(5000, retry * 2)
    }
    ws.onmessage = onMessage
  }
  connect()
  const enc = new TextEncoder()
  const sendKey = (name, down) => {
    const code = enc.encode(name)
    const m = new Uint8Array(2 + code.length); m[0] = 0x10; m[1] = down ? 1 : 0; m.set(code, 2); send(m)
  }
  // The guest keeps its own modifier state from key events: a Shift held when the canvas got
  // focus, or a synthetic event carrying shiftKey without a Shift press, is sent as one first.
  let shift = false
  const key = (down) => (e) => {
    e.preventDefault()
    if (e.code === 'ShiftLeft' || e.code === 'ShiftRight') shift = down
    else if (down && e.shiftKey !== shift) { shift = e.shiftKey; sendKey('ShiftLeft', shift) }
    sendKey(e.code, down)
  }
  canvas.addEventListener('keydown', key(true))
  canvas.addEventListener('keyup', key(false))
  const at = (e) => {
    const r = canvas.getBoundingClientRect()
    const x = Math.max(0, Math.min(canvas.width - 1, Math.floor((e.clientX - r.left) * canvas.width / r.width)))
    const y = Math.max(0, Math.min(canvas.height - 1, Math.floor((e.clientY - r.top) * canvas.height / r.height)))
    const m = new Uint8Array(5); const v = new DataView(m.buffer); m[0] = 0x11; v.setUint16(1, x, true); v.setUint16(3, y, true); send(m)
  }
  canvas.addEventListener('mousemove', at)
  canvas.addEventListener('mousedown', (e) => { canvas.focus(); at(e); send(Uint8Array.of(0x12, e.button, 1)); e.preventDefault() })
  canvas.addEventListener('mouseup', (e) => { at(e); send(Uint8Array.of(0x12, e.button, 0)); e.preventDefault() })
  canvas.addEventListener('contextmenu', (e) => e.preventDefault())
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault()
    const clicks = Math.max(-127, Math.min(127, Math.round(-e.deltaY / 100) || -Math.sign(e.deltaY)))
    const m = new Uint8Array(3); new DataView(m.buffer).setInt8(1, clicks); m[0] = 0x13; send(m)
  }, { passive: false })
  term.onData((d) => { const t = enc.encode(d); const m = new Uint8Array(1 + t.length); m[0] = 0x14; m.set(t, 1); send(m) })
})()
</script>
</body></html>
`
}
