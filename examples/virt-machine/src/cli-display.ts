/**
 * honk-virt's display (issue #16, bare mode): QEMU's `-device virtio-gpu-device[,xres=…,yres=…]`,
 * `-device virtio-keyboard-device`, `-device virtio-tablet-device`, `-display none|web[,port=N]`
 * (and the short `--display web`), and `--screenshot <file.png>` — QEMU's `screendump`, taken
 * when the machine exits.
 */
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { Framebuffer } from '@honk/gui'
import { encodePng } from '@honk/gui/node'
import { VirtioGpu, VirtioKeyboard, VirtioTablet, type VirtioDevice } from '@honk/virtio'

/** The display devices and front end a command line asks for. */
export interface DisplaySpec {
  /** virtio-gpu with its preferred mode (QEMU's xres/yres; default 1280×800, QEMU's). */
  gpu?: { width: number; height: number }
  keyboard?: true
  tablet?: true
  /** `-display web[,port=N]`: the page on 127.0.0.1 (port 0: any free one). Absent: no front end (`-display none`). */
  web?: { port: number }
}

/** The display devices of one run of the machine. */
export interface DisplayDevices {
  gpu?: VirtioGpu
  keyboard?: VirtioKeyboard
  tablet?: VirtioTablet
}

/** The largest side QEMU's virtio-gpu takes for xres/yres (and virtio-gpu's MAX_SIDE). */
const MAX_SIDE = 16384

/** A display property (xres, yres): a whole number of pixels in 1..16384; `undefined` when not a valid one. */
export function parseSide(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const n = Number(text)
  return n >= 1 && n <= MAX_SIDE ? n : undefined
}

/** A TCP port for `-display web,port=N`: 0 (any free one) to 65535; `undefined` when not one. */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const n = Number(text)
  return n <= 65535 ? n : undefined
}

/** A picture a scanout showed: its size and RGBA bytes. */
interface Frame {
  width: number
  height: number
  rgba: Uint8Array
}

/**
 * The last picture each GPU's scanout 0 showed. The GPU replaces a scanout's RGBA array when the
 * guest disables it (SET_SCANOUT with resource 0) and updates it in place on flushes, so keeping
 * the array seen at the last flush keeps the last picture.
 */
const lastFrames = new WeakMap<VirtioGpu, Frame>()

/** Remembers scanout 0's picture on every flush (see {@link screenshotPng}). */
function trackLastFrame(gpu: VirtioGpu): void {
  gpu.onFlush((f) => {
    if (f.scanout === 0 && f.display.enabled && f.display.scanoutWidth > 0) lastFrames.set(gpu, { width: f.display.scanoutWidth, height: f.display.scanoutHeight, rgba: f.display.rgba })
  })
}

/** Creates the devices a spec names, in slot order: gpu, keyboard, tablet. */
export function createDisplayDevices(spec: DisplaySpec | undefined): { devices: DisplayDevices; list: VirtioDevice[] } {
  const devices: DisplayDevices = {}
  if (spec?.gpu) {
    devices.gpu = new VirtioGpu({ width: spec.gpu.width, height: spec.gpu.height })
    trackLastFrame(devices.gpu)
  }
  if (spec?.keyboard) devices.keyboard = new VirtioKeyboard()
  if (spec?.tablet) devices.tablet = new VirtioTablet()
  return { devices, list: [devices.gpu, devices.keyboard, devices.tablet].filter((d): d is NonNullable<typeof d> => d !== undefined) }
}

/**
 * Scanout 0 as a PNG (8-bit RGBA, the scanned-out area's size) — QEMU's screendump. When the
 * guest has disabled the scanout (Linux's DRM does at power-off, so a screenshot "at exit" would
 * otherwise always be empty), it is the last picture the scanout showed (for a GPU made by
 * {@link createDisplayDevices}); undefined when it never showed one.
 */
export function screenshotPng(gpu: VirtioGpu): Uint8Array | undefined {
  const d = gpu.display(0)
  const frame = d.enabled && d.scanoutWidth > 0 && d.scanoutHeight > 0 ? { width: d.scanoutWidth, height: d.scanoutHeight, rgba: d.rgba } : lastFrames.get(gpu)
  if (!frame) return undefined
  return encodePng(new Framebuffer(frame.width, frame.height, frame.rgba.slice()))
}

/** Writes the screenshot; returns a one-line reason when there is nothing to write. */
export async function writeScreenshot(path: string, gpu: VirtioGpu | undefined): Promise<string | undefined> {
  const png = gpu ? screenshotPng(gpu) : undefined
  if (!png) return `--screenshot ${path}: the guest never showed anything on the display; nothing written`
  await writeFile(path, png)
  return undefined
}

/**
 * Rejects (with the host's error, e.g. EADDRINUSE) when `port` on 127.0.0.1 cannot be listened
 * on; port 0 (any free one) always can. Checked before the web display starts: its HTTP server's
 * listen error is also re-emitted by the WebSocket server (ws), which has no listener for it.
 */
export async function checkPortFree(port: number): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(port, '127.0.0.1', () => resolve())
  })
  await new Promise<void>((resolve) => probe.close(() => resolve()))
}
