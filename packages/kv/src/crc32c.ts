/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 and
 * LevelDB. Slicing-by-8 tables: 8 bytes per step, measured ~4× the one-table loop in V8.
 */
const POLY = 0x82f63b78

/* @__PURE__ */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t[n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8)
      t[s * 256 + n] = c >>> 0
    }
  }
  return t
})()

/**
 * Continues a CRC-32C over `data[start, end)`. Start with `crc = 0` (or a seed); the result of
 * one call can be fed as `crc` to the next to checksum data in pieces.
 */
export function crc32c(data: Uint8Array, crc = 0, start = 0, end = data.length): number {
  const t = TABLES
  let c = ~crc >>> 0
  let i = start
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))
    c =
      t[7 * 256 + (lo & 0xff)]! ^
      t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[4 * 256 + (lo >>> 24)]! ^
      t[3 * 256 + data[i + 4]!]! ^
      t[2 * 256 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!
  }
  for (; i < end; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
