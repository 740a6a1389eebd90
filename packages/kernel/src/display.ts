/**
 * The screen (inventory §1.10.5–6, §2.1 lines 11–12): the virtio-gpu driver with one surface in
 * guest RAM, honk's test pattern, and the `@honk/gui` apps on it, fed by the virtio-input
 * drivers. Apps draw into a `Framebuffer` the kernel owns; only the rectangles `render()`
 * reports are copied into the surface's backing and transferred + flushed (the interrupt
 * completes each batch). Input is interrupt-driven too: each SYN_REPORT dispatches the report
 * to the shown app, and one redraw is scheduled for any number of reports that arrive together.
 *
 * Apps: `demo` (honk's text field + button, whose callbacks print on the console) and
 * `status` (a panel with uptime, harts, processes and network, refreshed every second).
 */
import { Button, Framebuffer, Label, LinuxKeyboard, Panel, TextField, UI, absToPixel, rect, rgb, type GuiEvent } from '@honk/gui'
import { DEVICE_ID, EV, INPUT_CODE, VirtioMmioDriver, openVirtioGpu, openVirtioInput, type DmaAllocator, type GpuSurface, type GuestMemory, type InputEvent, type VirtioGpuDriver, type VirtioInputPort } from '@honk/virtio'
import { goQuote } from './commands/format.js'
import { InterruptSignal } from './plic.js'

/** The quadrant colours of honk's test pattern (§1.10.5): TL red, TR green, BL blue, BR light grey. */
export const TEST_PATTERN = { topLeft: [200, 40, 40], topRight: [40, 200, 40], bottomLeft: [40, 40, 200], bottomRight: [220, 220, 220] } as const

/** Draws the test pattern, split at w/2 and h/2. */
export function drawTestPattern(fb: Framebuffer): void {
  const { width: w, height: h } = fb
  const hw = w >> 1
  const hh = h >> 1
  const c = (v: readonly [number, number, number]) => rgb(v[0], v[1], v[2])
  fb.fill(rect(0, 0, hw, hh), c(TEST_PATTERN.topLeft))
  fb.fill(rect(hw, 0, w - hw, hh), c(TEST_PATTERN.topRight))
  fb.fill(rect(0, hh, hw, h - hh), c(TEST_PATTERN.bottomLeft))
  fb.fill(rect(hw, hh, w - hw, h - hh), c(TEST_PATTERN.bottomRight))
}

/** What the status panel shows; read each time it refreshes. */
export interface StatusInfo {
  readonly uptime: string
  readonly harts: number
  readonly processes: number
  readonly network: string
}

/** A virtio slot as the kernel probed it. */
export interface DisplaySlot {
  readonly base: number
  readonly irq: number
  readonly id: number | undefined
}

export interface DisplayBringUp {
  readonly slots: readonly DisplaySlot[]
  /** A driver on the slot at `base` (probed, not initialised). */
  open(base: number): VirtioMmioDriver
  /** Routes interrupt `irq` to `handler` (the PLIC). */
  enableIrq(irq: number, handler: () => void): void
  readonly memory: GuestMemory
  readonly alloc: DmaAllocator
  /** Prints a boot line. */
  line(text: string): void
  /** Console output for the apps' callbacks. */
  print(text: string): void
  status(): StatusInfo
}

export type AppName = 'demo' | 'status'

/** Probes the GPU and input slots and prints the boot lines (§2.1 lines 11–12). Never throws. */
export async function initDisplay(up: DisplayBringUp): Promise<Display> {
  let gpu: VirtioGpuDriver | undefined
  let surface: GpuSurface | undefined
  const slot = up.slots.find((s) => s.id === DEVICE_ID.GPU)
  if (!slot) up.line('honk: no display device')
  else {
    try {
      const driver = up.open(slot.base)
      const signal = new InterruptSignal()
      up.enableIrq(slot.irq, () => {
        driver.ackInterrupt()
        signal.signal()
      })
      gpu = await openVirtioGpu({ driver, memory: up.memory, alloc: up.alloc, waitForInterrupt: () => signal.wait(), name: `virtio-gpu@${slot.base.toString(16)}` })
      surface = await gpu.createSurface()
      up.line(`honk: display = virtio-gpu, ${surface.width}x${surface.height}`)
    } catch (e) {
      up.line(`honk: display init failed: ${(e as Error).message}`)
      surface = undefined
    }
  }
  const inputs: VirtioInputPort[] = []
  for (const s of up.slots.filter((x) => x.id === DEVICE_ID.INPUT)) {
    try {
      const port = openVirtioInput({ driver: up.open(s.base), memory: up.memory, alloc: up.alloc })
      up.enableIrq(s.irq, () => port.handleInterrupt())
      inputs.push(port)
    } catch (e) {
      up.line(`honk: input init failed at 0x${s.base.toString(16)}: ${(e as Error).message}`)
    }
  }
  const display = new Display(surface, inputs, up)
  if (surface) {
    try {
      await display.testPattern()
      up.line(`honk: display up  ${surface.width}x${surface.height}  test pattern drawn`)
    } catch (e) {
      up.line(`honk: display flush failed: ${(e as Error).message}`)
    }
  }
  if (inputs.length === 0) up.line('honk: no input device')
  else {
    up.line(`honk: input = virtio-input, ${inputs.length} device(s)`)
    if (!display.active) up.line('honk: input present but no display; UI disabled')
    else {
      await display.show('demo')
      up.line(`honk: ui up  ${inputs.length} input device(s); click the button and type`)
    }
  }
  return display
}

export class Display {
  /** The demo's button clicks so far. */
  clicks = 0
  /** What the screen shows now. */
  shown: AppName | 'pattern' | 'none' = 'none'
  /** Frames presented (one per redraw that changed something) and rectangles in them. */
  readonly stats = { frames: 0, rects: 0 }
  private readonly fb: Framebuffer | undefined
  private readonly keyboard = new LinuxKeyboard()
  private apps: Partial<Record<AppName, UI>> = {}
  private statusLabels: Label[] = []
  private statusTimer: ReturnType<typeof setInterval> | undefined
  /** Pointer position (pixels) from the last EV_ABS values, and whether it moved since the last report. */
  private px = 0
  private py = 0
  private moved = false
  private pending: GuiEvent[] = []
  private drawing: Promise<void> | undefined
  private again = false

  constructor(
    readonly surface: GpuSurface | undefined,
    readonly inputs: readonly VirtioInputPort[],
    private readonly up: Pick<DisplayBringUp, 'print' | 'status'>,
  ) {
    if (surface) this.fb = new Framebuffer(surface.width, surface.height)
    for (const port of inputs) port.onEvent((e) => this.input(port, e))
  }

  /** A display and at least one input device: the UI runs. */
  get active(): boolean {
    return this.surface !== undefined && this.inputs.length > 0
  }

  get width(): number {
    return this.surface?.width ?? 0
  }

  get height(): number {
    return this.surface?.height ?? 0
  }

  /** The kernel's copy of the screen (what was last presented), RGBA. */
  get pixels(): Uint8Array | undefined {
    return this.fb?.data
  }

  /** Paints the test pattern over the whole screen and flushes it (`fb`). */
  async testPattern(): Promise<void> {
    const { fb, surface } = this
    if (!fb || !surface) throw new Error('no display device')
    await this.drawing
    this.stopStatus()
    drawTestPattern(fb)
    this.shown = 'pattern'
    await this.present([fb.bounds])
  }

  /** Shows an app, redrawn whole (`ui`, `ui status`). */
  async show(app: AppName): Promise<void> {
    if (!this.active) throw new Error('ui not active')
    await this.drawing
    const ui = this.app(app)
    this.stopStatus()
    this.shown = app
    if (app === 'status') {
      this.refreshStatus()
      this.statusTimer = setInterval(() => {
        this.refreshStatus()
        this.scheduleDraw()
      }, 1000)
      this.statusTimer.unref?.()
    }
    ui.redraw()
    await this.present([ui.framebuffer.bounds])
  }

  /** Feeds GUI events to the shown app as if they came from the input devices (tests, the host). */
  dispatch(events: readonly GuiEvent[]): void {
    this.pending.push(...events)
    this.flushEvents()
  }

  /** Resolves when no redraw is pending or running. */
  async idle(): Promise<void> {
    while (this.drawing) await this.drawing
  }

  /** Stops timers (power-off). */
  close(): void {
    this.stopStatus()
  }

  private app(name: AppName): UI {
    const existing = this.apps[name]
    if (existing) return existing
    // Every app draws into the one screen framebuffer; the shown one owns it.
    const ui = new UI({ width: this.width, height: this.height, framebuffer: this.fb! })
    if (name === 'demo') {
      // Layout of honk's demo (§1.10.6): field (40,80)–(640,124), button (40,160)–(240,220) "honk!".
      ui.add(new TextField({ bounds: rect(40, 80, 600, 44), onChange: (t) => this.up.print(`ui: text=${goQuote(t)}\n`) }))
      ui.add(
        new Button({
          bounds: rect(40, 160, 200, 60),
          label: 'honk!',
          onClick: () => {
            this.clicks++
            this.up.print(`ui: button clicked (clicks=${this.clicks})\n`)
          },
        }),
      )
    } else {
      const panel = ui.add(new Panel({ bounds: rect(40, 40, 420, 150), background: rgb(44, 44, 66), border: rgb(120, 120, 160), layout: 'column', padding: 10, gap: 6 }))
      panel.add(new Label({ bounds: rect(0, 0, 400, 18), text: 'honk status' }))
      this.statusLabels = [0, 1, 2, 3].map(() => panel.add(new Label({ bounds: rect(0, 0, 400, 18), text: '' })))
      panel.layout()
    }
    this.apps[name] = ui
    return ui
  }

  private refreshStatus(): void {
    const s = this.up.status()
    const lines = [`uptime     ${s.uptime}`, `harts      ${s.harts}`, `processes  ${s.processes}`, `network    ${s.network}`]
    // Setting a label's text damages it only when the text changed.
    lines.forEach((t, i) => {
      const l = this.statusLabels[i]
      if (l && l.text !== t) l.text = t
    })
  }

  private stopStatus(): void {
    if (this.statusTimer) clearInterval(this.statusTimer)
    this.statusTimer = undefined
  }

  /** One evdev event from `port`: EV_ABS moves the pointer, EV_KEY buttons/keys, SYN_REPORT dispatches. */
  private input(port: VirtioInputPort, e: InputEvent): void {
    if (!this.active) return
    if (e.type === EV.ABS) {
      const max = (port.abs.get(e.code)?.max ?? 32767) + 1
      // Scaled as honk did: pixel = value·size/32768 (absToPixel), for a 0..32767 axis.
      const v = max === 32768 ? e.value : Math.round((e.value * 32768) / max)
      if (e.code === INPUT_CODE.ABS_X) this.px = absToPixel(v, this.width)
      else if (e.code === INPUT_CODE.ABS_Y) this.py = absToPixel(v, this.height)
      this.moved = true
    } else if (e.type === EV.KEY && e.code >= INPUT_CODE.BTN_LEFT && e.code <= INPUT_CODE.BTN_MIDDLE) {
      if (e.value === 2) return
      this.flushMove()
      const button = e.code === INPUT_CODE.BTN_LEFT ? 0 : e.code === INPUT_CODE.BTN_MIDDLE ? 1 : 2
      this.pending.push({ kind: e.value ? 'pointerdown' : 'pointerup', x: this.px, y: this.py, button })
    } else if (e.type === EV.KEY) {
      const k = this.keyboard.translate(e.code, e.value)
      if (k) this.pending.push(k)
    } else if (e.type === EV.REL && (e.code === INPUT_CODE.REL_WHEEL || e.code === INPUT_CODE.REL_HWHEEL)) {
      this.flushMove()
      this.pending.push(e.code === INPUT_CODE.REL_WHEEL ? { kind: 'wheel', x: this.px, y: this.py, dx: 0, dy: -e.value } : { kind: 'wheel', x: this.px, y: this.py, dx: e.value, dy: 0 })
    } else if (e.type === EV.SYN && e.code === 0) {
      this.flushMove()
      this.flushEvents()
    }
  }

  private flushMove(): void {
    if (!this.moved) return
    this.moved = false
    this.pending.push({ kind: 'pointermove', x: this.px, y: this.py })
  }

  private flushEvents(): void {
    const events = this.pending
    this.pending = []
    if (this.shown !== 'demo' && this.shown !== 'status') return
    const ui = this.app(this.shown)
    let changed = false
    for (const ev of events) changed = ui.handle(ev) || changed
    if (changed || ui.damaged.length) this.scheduleDraw()
  }

  /** One redraw at a time; reports arriving meanwhile are folded into the next one. */
  private scheduleDraw(): void {
    if (this.drawing) {
      this.again = true
      return
    }
    this.drawing = (async () => {
      try {
        do {
          this.again = false
          await Promise.resolve() // let the reports of this interrupt all arrive first
          if (this.shown !== 'demo' && this.shown !== 'status') break
          const damaged = this.app(this.shown).render()
          if (damaged.length) await this.present(damaged)
        } while (this.again)
      } catch (e) {
        this.up.print(`ui: flush failed: ${(e as Error).message}\n`)
      } finally {
        this.drawing = undefined
      }
    })()
  }

  private async present(rects: readonly { x: number; y: number; width: number; height: number }[]): Promise<void> {
    this.stats.frames++
    this.stats.rects += rects.length
    await this.surface!.present(this.fb!.data, rects)
  }
}
