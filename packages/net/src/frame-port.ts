/**
 * The one interface every Ethernet endpoint speaks: the virtio-net device model (host side of a
 * guest's NIC), the kernel's virtio-net driver (guest side), a `Stack`, the test link, the
 * user-mode NAT and QEMU's socket netdevs.
 *
 * A frame is a whole Ethernet II frame: destination MAC, source MAC, EtherType, payload; no
 * preamble, no FCS, no virtio-net header. Delivery is best effort (a port may drop), in order
 * per port unless the link says otherwise.
 *
 * Wiring: two ports are joined by giving each one's frames to the other, e.g.
 * `a.onFrame((f) => b.send(f))` for a pass-through, or a `TestLink` between two stacks.
 */
export interface FramePort {
  /**
   * Transmits one frame. Ownership passes to the port: the caller must not modify `frame`
   * afterwards. Never throws for a frame the far side cannot take (it is dropped and counted).
   */
  send(frame: Uint8Array): void
  /**
   * Sets the receiver of arriving frames; a later call replaces it. The handler may be called
   * synchronously from the far side's `send`, so it must not assume a fresh call stack; the
   * frame belongs to the handler (it may keep it).
   */
  onFrame(handler: (frame: Uint8Array) => void): void
}

/** A FramePort whose far side is a callback: `send` calls `transmit`; `deliver` feeds the handler. Useful to adapt a device model or driver. */
export class CallbackFramePort implements FramePort {
  private handler: ((frame: Uint8Array) => void) | undefined
  constructor(private readonly transmit: (frame: Uint8Array) => void) {}
  send(frame: Uint8Array): void {
    this.transmit(frame)
  }
  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler
  }
  /** Hands an arriving frame to the handler (dropped if none is set). */
  deliver(frame: Uint8Array): void {
    this.handler?.(frame)
  }
}
