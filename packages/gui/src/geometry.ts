/** Rectangles in pixels: (x, y) is the top-left corner; empty when width or height ≤ 0. */
export interface Rect {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

export const rect = (x: number, y: number, width: number, height: number): Rect => ({ x, y, width, height })

export const EMPTY: Rect = { x: 0, y: 0, width: 0, height: 0 }

export function isEmpty(r: Rect): boolean {
  return r.width <= 0 || r.height <= 0
}

export function contains(r: Rect, x: number, y: number): boolean {
  return x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height
}

/** The common part of two rectangles ({@link EMPTY} when they do not overlap). */
export function intersect(a: Rect, b: Rect): Rect {
  const x = Math.max(a.x, b.x)
  const y = Math.max(a.y, b.y)
  const w = Math.min(a.x + a.width, b.x + b.width) - x
  const h = Math.min(a.y + a.height, b.y + b.height) - y
  return w > 0 && h > 0 ? { x, y, width: w, height: h } : EMPTY
}

export function overlaps(a: Rect, b: Rect): boolean {
  return !isEmpty(intersect(a, b))
}

/** The smallest rectangle holding both (an empty one does not count). */
export function union(a: Rect, b: Rect): Rect {
  if (isEmpty(a)) return b
  if (isEmpty(b)) return a
  const x = Math.min(a.x, b.x)
  const y = Math.min(a.y, b.y)
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y }
}

/** A rectangle shrunk by `d` on every side (grown when `d` < 0). */
export function inset(r: Rect, d: number): Rect {
  return { x: r.x + d, y: r.y + d, width: r.width - 2 * d, height: r.height - 2 * d }
}

export function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height
}
