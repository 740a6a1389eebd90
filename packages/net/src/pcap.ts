/**
 * libpcap capture files (the classic format Wireshark and `tcpdump -r` read): a 24-byte global
 * header, then per frame a 16-byte record header (seconds, microseconds, captured and original
 * lengths) and the bytes. Little-endian, microsecond timestamps, LINKTYPE_ETHERNET (1).
 */
import { NetMalformedError } from './errors.js'

export const LINKTYPE_ETHERNET = 1
const MAGIC = 0xa1b2c3d4

export class PcapWriter {
  private readonly snaplen: number
  /** `sink` receives the file as chunks, in order (append them to a file or an array). */
  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    opts: { snaplen?: number } = {},
  ) {
    this.snaplen = opts.snaplen ?? 65535
    const h = new DataView(new ArrayBuffer(24))
    h.setUint32(0, MAGIC, true)
    h.setUint16(4, 2, true)
    h.setUint16(6, 4, true)
    h.setInt32(8, 0, true) // thiszone
    h.setUint32(12, 0, true) // sigfigs
    h.setUint32(16, this.snaplen, true)
    h.setUint32(20, LINKTYPE_ETHERNET, true)
    sink(new Uint8Array(h.buffer))
  }

  /** Records `frame` at `timeMs` (milliseconds; e.g. the link's clock). */
  write(frame: Uint8Array, timeMs: number): void {
    const incl = Math.min(frame.length, this.snaplen)
    const rec = new Uint8Array(16 + incl)
    const v = new DataView(rec.buffer)
    const us = Math.max(0, Math.round(timeMs * 1000))
    v.setUint32(0, Math.floor(us / 1e6), true)
    v.setUint32(4, us % 1e6, true)
    v.setUint32(8, incl, true)
    v.setUint32(12, frame.length, true)
    rec.set(frame.subarray(0, incl), 16)
    this.sink(rec)
  }
}

/** Reads a capture written by {@link PcapWriter} (either byte order): the frames with their times in ms. */
export function readPcap(file: Uint8Array): { linkType: number; frames: { timeMs: number; frame: Uint8Array }[] } {
  if (file.length < 24) throw new NetMalformedError('pcap file', `${file.length} bytes is shorter than the 24-byte header`)
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const le = v.getUint32(0, true) === MAGIC
  if (!le && v.getUint32(0, false) !== MAGIC) throw new NetMalformedError('pcap file', `magic 0x${v.getUint32(0, false).toString(16)}`)
  const linkType = v.getUint32(20, le)
  const frames: { timeMs: number; frame: Uint8Array }[] = []
  for (let o = 24; o < file.length; ) {
    if (o + 16 > file.length) throw new NetMalformedError('pcap file', `record header at ${o} truncated`)
    const incl = v.getUint32(o + 8, le)
    if (o + 16 + incl > file.length) throw new NetMalformedError('pcap file', `record at ${o} claims ${incl} bytes past the end`)
    frames.push({ timeMs: v.getUint32(o, le) * 1000 + v.getUint32(o + 4, le) / 1000, frame: file.slice(o + 16, o + 16 + incl) })
    o += 16 + incl
  }
  return { linkType, frames }
}
