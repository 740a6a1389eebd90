/**
 * Node-only helpers: PNG screenshots of a {@link Framebuffer} with pngjs.
 */
import pngjs from 'pngjs'
import { Framebuffer } from './framebuffer.js'

/** The framebuffer as a PNG file (8-bit RGBA). */
export function encodePng(fb: Framebuffer): Uint8Array {
  const png = new pngjs.PNG({ width: fb.width, height: fb.height })
  png.data = Buffer.from(fb.data.buffer, fb.data.byteOffset, fb.data.byteLength)
  return new Uint8Array(pngjs.PNG.sync.write(png, { colorType: 6 }))
}

/** A PNG file as a framebuffer (any PNG pngjs reads; converted to 8-bit RGBA). */
export function decodePng(bytes: Uint8Array): Framebuffer {
  const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  return new Framebuffer(png.width, png.height, new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength).slice())
}
