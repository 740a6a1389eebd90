/**
 * QEMU's socket netdevs as {@link FramePort}s, so our stack (or the NAT) can share a wire with a
 * QEMU guest:
 * - `-netdev stream` and `-netdev socket,connect=|listen=`: each frame preceded by its length
 *   as a 4-byte big-endian number, over TCP or a unix socket;
 * - `-netdev dgram` and `-netdev socket,udp=`: one frame per UDP datagram.
 */
import type { Socket as DgramSocket } from 'node:dgram'
import type { Duplex } from 'node:stream'
import type { FramePort } from '../frame-port.js'

export interface StreamFramePortOptions {
  /** Frames longer than this end the connection as a protocol error. Default 65 550 (a 64 KiB frame with a VLAN header). */
  maxFrame?: number
}

export interface ClosableFramePort extends FramePort {
  /** Frames received, sent, and dropped (oversized, or sent after close). */
  readonly counters: { framesIn: number; framesOut: number; dropped: number }
  close(): void
}

/** Wraps a connected stream (a `net.Socket` to/from QEMU) in QEMU's length-prefixed framing. */
export function streamFramePort(stream: Duplex, opts: StreamFramePortOptions = {}): ClosableFramePort {
  const maxFrame = opts.maxFrame ?? 65_550
  let handler: ((f: Uint8Array) => void) | undefined
  let pending: Buffer = Buffer.alloc(0)
  let open = true
  let corked = false
  const counters = { framesIn: 0, framesOut: 0, dropped: 0 }
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let at = 0
    while (pending.length - at >= 4) {
      const len = pending.readUInt32BE(at)
      if (len > maxFrame) {
        counters.dropped++
        open = false
        stream.destroy(new Error(`QEMU stream netdev: frame length ${len} exceeds ${maxFrame}`))
        return
      }
      if (pending.length - at - 4 < len) break
      const frame = new Uint8Array(pending.subarray(at + 4, at + 4 + len)) // copy: the handler may keep it
      at += 4 + len
      counters.framesIn++
      handler?.(frame)
    }
    pending = at === pending.length ? Buffer.alloc(0) : pending.subarray(at)
  })
  stream.on('close', () => (open = false))
  stream.on('error', () => (open = false))
  return {
    counters,
    send(frame) {
      if (!open || stream.destroyed) {
        counters.dropped++
        return
      }
      const b = Buffer.allocUnsafe(4 + frame.length)
      b.writeUInt32BE(frame.length, 0)
      b.set(frame, 4)
      counters.framesOut++
      // Frames sent in one turn of the event loop leave in one writev, not one write each.
      if (!corked) {
        corked = true
        stream.cork()
        process.nextTick(() => {
          corked = false
          stream.uncork()
        })
      }
      stream.write(b)
    },
    onFrame(h) {
      handler = h
    },
    close() {
      open = false
      stream.end()
    },
  }
}

/**
 * Wraps a bound UDP socket: frames go to `remote`; without one, to the sender of the last
 * datagram received (the far side speaks first).
 */
export function dgramFramePort(socket: DgramSocket, remote?: { address: string; port: number }): ClosableFramePort {
  let handler: ((f: Uint8Array) => void) | undefined
  let peer = remote
  let open = true
  const counters = { framesIn: 0, framesOut: 0, dropped: 0 }
  socket.on('message', (msg, rinfo) => {
    if (remote && (rinfo.port !== remote.port || rinfo.address !== remote.address)) {
      counters.dropped++ // not our peer
      return
    }
    peer ??= { address: rinfo.address, port: rinfo.port }
    counters.framesIn++
    handler?.(new Uint8Array(msg))
  })
  socket.on('close', () => (open = false))
  return {
    counters,
    send(frame) {
      if (!open || !peer) {
        counters.dropped++
        return
      }
      counters.framesOut++
      socket.send(frame, peer.port, peer.address)
    },
    onFrame(h) {
      handler = h
    },
    close() {
      if (open) socket.close()
      open = false
    },
  }
}
