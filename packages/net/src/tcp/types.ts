/**
 * The contract between the TCP layer (`src/tcp/`) and the rest of the stack (`src/stack.ts`):
 * IPv4 hands TCP checked segments with their addresses; TCP hands IPv4 segments to send.
 * Addresses are IPv4 as unsigned 32-bit numbers.
 */

/** TCP header flags (RFC 9293 §3.1). */
export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const

/** The options honk's TCP understands (RFC 9293 §3.2, RFC 7323 window scale). */
export interface TcpOptions {
  mss?: number
  windowScale?: number
  sackPermitted?: boolean
  timestamp?: { value: number; echo: number }
}

/** One TCP segment, decoded (ports, numbers and flags as on the wire; `window` unscaled). */
export interface TcpSegment {
  srcPort: number
  dstPort: number
  seq: number
  ack: number
  flags: number
  window: number
  urgent: number
  options: TcpOptions
  payload: Uint8Array
}

/** What the TCP layer needs from below: send a segment from `src` to `dst` (IPv4 encodes and checksums). */
export interface TcpOutput {
  (segment: TcpSegment, src: number, dst: number): void
}
