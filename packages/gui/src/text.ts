/** Text on a framebuffer with a {@link BitmapFont}. */
import { font7x13, type BitmapFont } from './font.js'
import type { Color, Framebuffer } from './framebuffer.js'

/**
 * Draws `text` with the top-left of its first cell at (x, y); returns the x after the last
 * character. Clipped like every drawing call; one line (no wrapping, '\n' has no meaning).
 */
export function drawText(fb: Framebuffer, x: number, y: number, text: string, color: Color, font: BitmapFont = font7x13): number {
  const clip = fb.clip
  for (const ch of text) {
    // Skip whole cells outside the clip (cheap for long scrolled text).
    if (x + font.width > clip.x && x < clip.x + clip.width && y + font.height > clip.y && y < clip.y + clip.height) {
      const rows = font.glyph(ch)
      for (let r = 0; r < rows.length; r++) {
        const bits = rows[r]!
        if (bits === 0) continue
        for (let c = 0; c < font.width; c++) if (bits & (1 << (font.width - 1 - c))) fb.blend(x + c, y + r, color)
      }
    }
    x += font.width
  }
  return x
}

/** Width in pixels of `text` (one cell per code point). */
export function textWidth(text: string, font: BitmapFont = font7x13): number {
  let n = 0
  for (const _ of text) n++
  return n * font.width
}
