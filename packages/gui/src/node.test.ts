import { describe, expect, it } from 'vitest'
import { Framebuffer, rgb } from './framebuffer.js'
import { decodePng, encodePng } from './node.js'

describe('PNG screenshots', () => {
  it('encode then decode gives back the same RGBA pixels, alpha included', () => {
    const fb = new Framebuffer(5, 3)
    fb.set(0, 0, rgb(255, 0, 0))
    fb.set(4, 2, rgb(1, 2, 3, 4))
    const png = encodePng(fb)
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const back = decodePng(png)
    expect([back.width, back.height]).toEqual([5, 3])
    expect(back.equals(fb)).toBe(true)
  })
})
