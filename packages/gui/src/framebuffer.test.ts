import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FONT_CHARS, font7x13 } from './font.js'
import { Framebuffer, components, rgb } from './framebuffer.js'
import { rect } from './geometry.js'
import { drawText, textWidth } from './text.js'

const RED = rgb(255, 0, 0)
const count = (fb: Framebuffer, c: number) => {
  let n = 0
  for (let y = 0; y < fb.height; y++) for (let x = 0; x < fb.width; x++) if (fb.get(x, y) === c) n++
  return n
}

describe('Framebuffer', () => {
  it('packs colours as 0xRRGGBBAA and stores R, G, B, A bytes', () => {
    const fb = new Framebuffer(2, 1)
    fb.set(1, 0, rgb(1, 2, 3, 4))
    expect(Array.from(fb.data)).toEqual([0, 0, 0, 0, 1, 2, 3, 4])
    expect(components(rgb(250, 128, 7))).toEqual([250, 128, 7, 255])
    expect(() => new Framebuffer(0, 5)).toThrow(/framebuffer of 0×5/)
    expect(() => new Framebuffer(2, 2, new Uint8Array(3))).toThrow(/3 bytes/)
  })

  it('fills clipped to the framebuffer and to the clip stack', () => {
    const fb = new Framebuffer(10, 10)
    fb.fill(rect(-5, -5, 8, 8), RED)
    expect(count(fb, RED)).toBe(9)
    fb.clear(0)
    fb.pushClip(rect(2, 2, 4, 4))
    fb.pushClip(rect(4, 0, 10, 10))
    expect(fb.clip).toEqual(rect(4, 2, 2, 4))
    fb.fill(fb.bounds, RED)
    fb.popClip()
    fb.popClip()
    expect(count(fb, RED)).toBe(8)
    expect(fb.get(4, 2)).toBe(RED)
    expect(fb.get(3, 2)).toBe(0)
    expect(() => fb.popClip()).toThrow(/popClip/)
  })

  it('draws lines with both ends, in every octant, clipped', () => {
    const fb = new Framebuffer(20, 20)
    fb.line(2, 3, 15, 9, RED)
    expect(fb.get(2, 3)).toBe(RED)
    expect(fb.get(15, 9)).toBe(RED)
    expect(count(fb, RED)).toBe(14) // one pixel per column of the major axis
    fb.clear(0)
    fb.line(5, 5, 5, 5, RED)
    expect(count(fb, RED)).toBe(1)
    fb.clear(0)
    fb.line(-10, 10, 30, 10, RED) // clipped, no throw
    expect(count(fb, RED)).toBe(20)
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 25 }), fc.integer({ min: -5, max: 25 }), fc.integer({ min: -5, max: 25 }), fc.integer({ min: -5, max: 25 }), (a, b, c, d) => {
        const f = new Framebuffer(20, 20)
        f.line(a, b, c, d, RED)
        const g = new Framebuffer(20, 20)
        g.line(c, d, a, b, RED)
        // A line has max(|dx|,|dy|)+1 pixels (fewer when clipped), ends included, either direction.
        const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < 20 && y < 20
        const n = Math.max(Math.abs(c - a), Math.abs(d - b)) + 1
        const whole = inside(a, b) && inside(c, d)
        return count(f, RED) <= n && (!inside(a, b) || f.get(a, b) === RED) && (!inside(c, d) || f.get(c, d) === RED) && (!whole || (count(f, RED) === n && count(g, RED) === n))
      }),
    )
  })

  it('blits with clipping on both sides, overlapping self-copies, and alpha blending', () => {
    const src = new Framebuffer(4, 4)
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) src.set(x, y, rgb(x * 10, y * 10, 0))
    const dst = new Framebuffer(6, 6)
    dst.blit(src, -2, 3)
    expect(dst.pixel(0, 3)).toEqual([20, 0, 0, 255])
    expect(dst.pixel(1, 5)).toEqual([30, 20, 0, 255])
    expect(dst.get(2, 3)).toBe(0)
    // Self copy shifted by one: the source is read before it is overwritten.
    src.blit(src, 1, 0, rect(0, 0, 3, 1))
    expect([0, 1, 2, 3].map((x) => src.pixel(x, 0)[0])).toEqual([0, 0, 10, 20])
    const half = new Framebuffer(1, 1)
    half.set(0, 0, rgb(255, 255, 255, 128))
    const bg = new Framebuffer(1, 1)
    bg.set(0, 0, rgb(0, 0, 0))
    bg.blit(half, 0, 0, half.bounds, { blend: true })
    expect(bg.pixel(0, 0)).toEqual([128, 128, 128, 255])
    expect(dst.crop(rect(0, 3, 2, 2)).pixel(1, 1)).toEqual([30, 10, 0, 255])
  })
})

describe('font7x13 and drawText', () => {
  it('has a distinct glyph for every printable ASCII character, inside its 7×13 cell', () => {
    expect(FONT_CHARS.length).toBe(95)
    const seen = new Map<string, string>()
    for (const ch of FONT_CHARS) {
      const g = font7x13.glyph(ch)
      expect(g.length).toBe(13)
      // Column 0 and 6 stay empty (1-pixel gap between characters), row 0–1 and 11–12 too.
      for (const row of g) expect(row & 0b1000001).toBe(0)
      expect([g[0], g[1], g[11], g[12]]).toEqual([0, 0, 0, 0])
      if (ch !== ' ') expect(g.some((r) => r !== 0)).toBe(true)
      const key = g.join(',')
      expect(seen.get(key), `${ch} looks like ${seen.get(key)}`).toBeUndefined()
      seen.set(key, ch)
    }
    // Descenders reach below the baseline; capitals do not.
    expect(font7x13.glyph('g').slice(font7x13.ascent).some((r) => r !== 0)).toBe(true)
    expect(font7x13.glyph('H').slice(font7x13.ascent).every((r) => r === 0)).toBe(true)
    expect(font7x13.glyph('\u00e9')).toEqual(font7x13.glyph('\u2603')) // no glyph: the box
  })

  it('draws text at its cell positions, clipped, and measures it', () => {
    const fb = new Framebuffer(30, 13)
    const end = drawText(fb, 0, 0, 'Hi', RED)
    expect(end).toBe(14)
    expect(textWidth('Hi')).toBe(14)
    // 'H' column 1 rows 2..8 is ink.
    for (let y = 2; y <= 8; y++) expect(fb.get(1, y)).toBe(RED)
    expect(fb.get(0, 5)).toBe(0)
    const clipped = new Framebuffer(30, 13)
    clipped.pushClip(rect(0, 0, 7, 13))
    drawText(clipped, 0, 0, 'Hi', RED)
    expect(count(clipped, RED)).toBe(count(new Framebuffer(30, 13), RED) + font7x13.glyph('H').reduce((n, r) => n + [...r.toString(2)].filter((b) => b === '1').length, 0))
  })
})
