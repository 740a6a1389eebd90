/**
 * Addresses as the stack handles them: IPv4 as unsigned 32-bit numbers, MAC addresses as
 * unsigned 48-bit numbers (exact in a double), so both compare with `===` and key a `Map`.
 */
import { NetMalformedError } from './errors.js'

/** `'10.0.2.15'` → `0x0a00020f`. Throws {@link NetMalformedError} on anything but four decimal octets. */
export function parseIpv4(text: string): number {
  const parts = text.split('.')
  if (parts.length !== 4) throw new NetMalformedError('IPv4 address', `"${text}" is not four dotted octets`)
  let v = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new NetMalformedError('IPv4 address', `"${text}" has a bad octet "${p}"`)
    v = v * 256 + Number(p)
  }
  return v >>> 0
}

/** `0x0a00020f` → `'10.0.2.15'`. */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`
}

/** The netmask of a prefix length: 24 → `0xffffff00`. */
export function prefixToMask(prefixLength: number): number {
  return prefixLength <= 0 ? 0 : (0xffffffff << (32 - Math.min(32, prefixLength))) >>> 0
}

/** The prefix length of a contiguous netmask: `0xffffff00` → 24. */
export function maskToPrefix(mask: number): number {
  let n = 0
  while (n < 32 && (mask >>> (31 - n)) & 1) n++
  return n
}

/** The limited broadcast address 255.255.255.255. */
export const IPV4_BROADCAST = 0xffffffff

/** `'52:54:00:12:34:56'` → 48-bit number. */
export function parseMac(text: string): number {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new NetMalformedError('MAC address', `"${text}" is not six hex octets`)
  return parts.reduce((v, p) => v * 256 + parseInt(p, 16), 0)
}

/** 48-bit number → `'52:54:00:12:34:56'`. */
export function formatMac(mac: number): string {
  return Array.from(macToBytes(mac), (b) => b.toString(16).padStart(2, '0')).join(':')
}

/** The six bytes of a MAC address (e.g. virtio-net's config space) as a number. */
export function macFromBytes(bytes: Uint8Array, offset = 0): number {
  let v = 0
  for (let i = 0; i < 6; i++) v = v * 256 + bytes[offset + i]!
  return v
}

/** A MAC address as six bytes. */
export function macToBytes(mac: number, out: Uint8Array = new Uint8Array(6), offset = 0): Uint8Array {
  // Two integer halves instead of six float divisions (this runs twice for every frame sent).
  const hi = Math.floor(mac / 0x100000000) & 0xffff
  const lo = mac >>> 0 // ToUint32: the low 32 bits
  out[offset] = hi >>> 8
  out[offset + 1] = hi & 255
  out[offset + 2] = lo >>> 24
  out[offset + 3] = (lo >>> 16) & 255
  out[offset + 4] = (lo >>> 8) & 255
  out[offset + 5] = lo & 255
  return out
}

/** ff:ff:ff:ff:ff:ff. */
export const MAC_BROADCAST = 0xffffffffffff

/** A random locally administered unicast MAC (first octet x2/x6/xA/xE) from a 32-bit random source. */
export function randomMac(random32: () => number = () => (Math.random() * 2 ** 32) >>> 0): number {
  const hi = ((random32() & 0xfcff) | 0x0200) & 0xfeff // locally administered, unicast
  return hi * 2 ** 32 + (random32() >>> 0)
}
