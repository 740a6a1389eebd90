/**
 * A FIFO of bytes for the send buffer: `push` copies (the caller may reuse its buffer), small
 * writes are coalesced into shared chunks, `peek` reads at any offset from the head and `drop`
 * releases acknowledged bytes from the head.
 */
const CHUNK = 16 * 1024

interface Chunk {
  buf: Uint8Array
  start: number
  end: number
}

export class ByteQueue {
  private chunks: Chunk[] = []
  private head = 0
  /** Bytes queued. */
  length = 0

  push(data: Uint8Array): void {
    if (data.length === 0) return
    let rest = data
    const last = this.chunks.length > this.head ? this.chunks[this.chunks.length - 1]! : undefined
    if (last && last.end < last.buf.length) {
      const n = Math.min(last.buf.length - last.end, rest.length)
      last.buf.set(rest.subarray(0, n), last.end)
      last.end += n
      rest = rest.subarray(n)
    }
    if (rest.length > 0) {
      const buf = new Uint8Array(Math.max(CHUNK, rest.length))
      buf.set(rest)
      this.chunks.push({ buf, start: 0, end: rest.length })
    }
    this.length += data.length
  }

  /** `len` bytes starting `offset` bytes after the head (a view when they lie in one chunk). */
  peek(offset: number, len: number): Uint8Array {
    if (offset < 0 || len < 0 || offset + len > this.length) throw new RangeError(`peek(${offset}, ${len}) beyond ${this.length} queued bytes`)
    if (len === 0) return new Uint8Array(0)
    let i = this.head
    let skip = offset
    while (skip >= this.chunks[i]!.end - this.chunks[i]!.start) {
      skip -= this.chunks[i]!.end - this.chunks[i]!.start
      i++
    }
    const first = this.chunks[i]!
    if (first.start + skip + len <= first.end) return first.buf.subarray(first.start + skip, first.start + skip + len)
    const out = new Uint8Array(len)
    let got = 0
    while (got < len) {
      const c = this.chunks[i++]!
      const from = c.start + skip
      const n = Math.min(c.end - from, len - got)
      out.set(c.buf.subarray(from, from + n), got)
      got += n
      skip = 0
    }
    return out
  }

  /** Releases `n` bytes from the head. */
  drop(n: number): void {
    n = Math.min(n, this.length)
    this.length -= n
    while (n > 0) {
      const c = this.chunks[this.head]!
      const take = Math.min(n, c.end - c.start)
      c.start += take
      n -= take
      if (c.start === c.end) this.head++
    }
    if (this.head > 32 || this.head === this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}
