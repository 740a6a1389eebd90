/**
 * A small RFB (VNC) client for the display benchmark's peer: QEMU's `-display vnc=…`. It speaks
 * RFB 3.8 (RFC 6143) with security type None, asks for 32-bit true colour laid out as RGBA bytes
 * (red at byte 0: the web display's layout), takes Raw, CopyRect and the DesktopSize
 * pseudo-encoding, keeps one incremental FramebufferUpdateRequest outstanding (the usual client
 * loop), and keeps a copy of the framebuffer so a caller can see which pixels an update changed.
 */
import { connect, type Socket } from 'node:net'
import { HonkError } from '@honk/errors'

export class RfbError extends HonkError<'RFB'> {
  constructor(message: string) {
    super('RFB', message)
    this.name = 'RfbError'
  }
}

/** RFC 6143 §7.7 encodings this client takes. */
export const RFB_ENCODING = { RAW: 0, COPY_RECT: 1, DESKTOP_SIZE: -223 } as const

/** One FramebufferUpdate as received: when its last byte arrived, its rectangles and its size on the wire. */
export interface RfbUpdate {
  at: number
  rects: number
  bytes: number
}

/** Reads exact byte counts from a socket's stream. */
class Reader {
  private chunks: Buffer[] = []
  private have = 0
  private wake: (() => void) | undefined
  private ended: Error | undefined

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d)
      this.have += d.length
      this.wake?.()
    })
    const end = (e?: Error) => {
      this.ended ??= e ?? new RfbError('the RFB server closed the connection')
      this.wake?.()
    }
    socket.on('end', () => end())
    socket.on('close', () => end())
    socket.on('error', (e) => end(e))
  }

  async read(n: number): Promise<Buffer> {
    while (this.have < n) {
      if (this.ended) throw this.ended
      await new Promise<void>((r) => (this.wake = r))
      this.wake = undefined
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length ? [rest] : []
    this.have = rest.length
    return out
  }
}

export class RfbClient {
  width = 0
  height = 0
  name = ''
  /** The framebuffer as this client has it: RGBA, the last byte of each pixel unspecified (RFB's padding). */
  rgba = new Uint8Array(0)
  /** Every FramebufferUpdate received, in order. */
  readonly updates: RfbUpdate[] = []
  /** Called after each FramebufferUpdate has been applied to {@link rgba}. */
  onUpdate: ((u: RfbUpdate) => void) | undefined
  /** Resolves when the connection ends (the server quit); rejects on a protocol error. */
  readonly done: Promise<void>

  private constructor(
    private readonly socket: Socket,
    private readonly reader: Reader,
    width: number,
    height: number,
    name: string,
  ) {
    this.resize(width, height)
    this.name = name
    this.start()
    this.done = this.loop()
    this.done.catch(() => undefined)
  }

  /** Connects and completes the handshake (version 3.8, security None, ClientInit shared). */
  static async connect(port: number, host = '127.0.0.1'): Promise<RfbClient> {
    const socket = connect(port, host)
    socket.setNoDelay(true)
    const reader = new Reader(socket)
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
      })
      return await RfbClient.handshake(socket, reader, `${host}:${port}`)
    } catch (e) {
      socket.destroy()
      throw e
    }
  }

  private static async handshake(socket: Socket, reader: Reader, where: string): Promise<RfbClient> {
    const version = (await reader.read(12)).toString('latin1')
    if (!/^RFB \d{3}\.\d{3}\n$/.test(version)) throw new RfbError(`${where}: not an RFB server (greeting ${JSON.stringify(version)})`)
    if (version < 'RFB 003.008\n') throw new RfbError(`${where}: the server speaks ${version.trim()}, this client only 3.8`)
    socket.write('RFB 003.008\n')
    const count = (await reader.read(1))[0]!
    if (count === 0) {
      const len = (await reader.read(4)).readUInt32BE(0)
      throw new RfbError(`${where}: the server refused: ${(await reader.read(len)).toString('utf8')}`)
    }
    const types = [...(await reader.read(count))]
    if (!types.includes(1)) throw new RfbError(`${where}: security type None not offered (offered ${types.join(', ')})`)
    socket.write(Uint8Array.of(1))
    const result = (await reader.read(4)).readUInt32BE(0)
    if (result !== 0) {
      const len = (await reader.read(4)).readUInt32BE(0)
      throw new RfbError(`${where}: security handshake failed: ${(await reader.read(len)).toString('utf8')}`)
    }
    socket.write(Uint8Array.of(1)) // ClientInit: shared
    const init = await reader.read(24)
    const name = (await reader.read(init.readUInt32BE(20))).toString('utf8')
    // The message loop starts reading only after the whole ServerInit (one reader at a time).
    const client = new RfbClient(socket, reader, init.readUInt16BE(0), init.readUInt16BE(2), name)
    return client
  }

  private start(): void {
    // SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 8-bit channels at shifts
    // 0, 8, 16 — in memory R, G, B, pad: the bytes of an RGBA buffer.
    const pf = Buffer.alloc(20)
    pf[0] = 0
    Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0]).copy(pf, 4)
    const encodings = [RFB_ENCODING.COPY_RECT, RFB_ENCODING.RAW, RFB_ENCODING.DESKTOP_SIZE]
    const se = Buffer.alloc(4 + 4 * encodings.length)
    se[0] = 2
    se.writeUInt16BE(encodings.length, 2)
    encodings.forEach((e, i) => se.writeInt32BE(e, 4 + 4 * i))
    this.socket.write(Buffer.concat([pf, se]))
    this.request(false)
  }

  /** FramebufferUpdateRequest for the whole screen. */
  private request(incremental: boolean): void {
    const m = Buffer.alloc(10)
    m[0] = 3
    m[1] = incremental ? 1 : 0
    m.writeUInt16BE(this.width, 6)
    m.writeUInt16BE(this.height, 8)
    this.socket.write(m)
  }

  private resize(width: number, height: number): void {
    this.width = width
    this.height = height
    this.rgba = new Uint8Array(width * height * 4)
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const type = (await this.reader.read(1))[0]!
        if (type === 0) await this.update()
        else if (type === 1) {
          const head = await this.reader.read(5)
          await this.reader.read(6 * head.readUInt16BE(3))
        } else if (type === 2) continue // Bell
        else if (type === 3) {
          const head = await this.reader.read(7)
          await this.reader.read(head.readUInt32BE(3))
        } else throw new RfbError(`unknown server message type ${type}`)
      }
    } catch (e) {
      this.socket.destroy()
      // The server quitting (QEMU powered off) is the normal end.
      if (e instanceof RfbError && /closed the connection/.test(e.message)) return
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') return
      throw e
    }
  }

  private async update(): Promise<void> {
    const head = await this.reader.read(3)
    const count = head.readUInt16BE(1)
    let bytes = 4
    let resized = false
    for (let i = 0; i < count; i++) {
      const r = await this.reader.read(12)
      const x = r.readUInt16BE(0)
      const y = r.readUInt16BE(2)
      const w = r.readUInt16BE(4)
      const h = r.readUInt16BE(6)
      const encoding = r.readInt32BE(8)
      bytes += 12
      if (encoding === RFB_ENCODING.DESKTOP_SIZE) {
        this.resize(w, h)
        resized = true
        continue
      }
      if (x + w > this.width || y + h > this.height) throw new RfbError(`rectangle ${w}x${h}+${x}+${y} outside the ${this.width}x${this.height} screen`)
      if (encoding === RFB_ENCODING.RAW) {
        const data = await this.reader.read(w * h * 4)
        bytes += data.length
        for (let row = 0; row < h; row++) this.rgba.set(data.subarray(row * w * 4, (row + 1) * w * 4), ((y + row) * this.width + x) * 4)
      } else if (encoding === RFB_ENCODING.COPY_RECT) {
        const src = await this.reader.read(4)
        bytes += 4
        const sx = src.readUInt16BE(0)
        const sy = src.readUInt16BE(2)
        const copy = new Uint8Array(w * h * 4)
        for (let row = 0; row < h; row++) copy.set(this.rgba.subarray(((sy + row) * this.width + sx) * 4, ((sy + row) * this.width + sx + w) * 4), row * w * 4)
        for (let row = 0; row < h; row++) this.rgba.set(copy.subarray(row * w * 4, (row + 1) * w * 4), ((y + row) * this.width + x) * 4)
      } else throw new RfbError(`rectangle in encoding ${encoding}, which this client did not ask for`)
    }
    const u = { at: performance.now(), rects: count, bytes }
    this.updates.push(u)
    // The next request before anything else: the server sends only when one is outstanding.
    this.request(!resized)
    this.onUpdate?.(u)
  }

  /** KeyEvent (RFC 6143 §7.5.4): an X keysym pressed or released. */
  key(keysym: number, down: boolean): void {
    const m = Buffer.alloc(8)
    m[0] = 4
    m[1] = down ? 1 : 0
    m.writeUInt32BE(keysym, 4)
    this.socket.write(m)
  }

  /** PointerEvent (§7.5.5): buttons as a mask (bit 0 left), at a pixel. */
  pointer(x: number, y: number, buttons: number): void {
    const m = Buffer.alloc(6)
    m[0] = 5
    m[1] = buttons
    m.writeUInt16BE(x, 2)
    m.writeUInt16BE(y, 4)
    this.socket.write(m)
  }

  close(): void {
    this.socket.destroy()
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    RfbError: RfbError
  }
}
