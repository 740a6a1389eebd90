/**
 * The WebAssembly programs honk's core ships (inventory §1.10.4): `hello.wasm` and `loop.wasm`,
 * encoded here byte by byte as the Go honk hand-encoded them (no toolchain needed), and
 * `textool.wasm`, a real C program built with Debian's clang + wasi-libc by
 * `scripts/guest/build-wasm-examples.sh` (shipped when that build is in the cache).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { GUEST_CACHE } from './guest.js'

/** Where the C programs are built (scripts/guest/build-wasm-examples.sh). */
export const WASM_CACHE = join(GUEST_CACHE, 'wasm')
export const TEXTOOL_WASM = join(WASM_CACHE, 'textool.wasm')

const utf8 = (s: string) => [...new TextEncoder().encode(s)]
const name = (s: string) => [s.length, ...utf8(s)]
/** A section: id, then its contents' length (LEB128; every section here is under 128 bytes) and contents (WebAssembly core spec §5.5.2). */
function section(id: number, contents: number[]): number[] {
  if (contents.length > 127) throw new Error('section too long for a one-byte length')
  return [id, contents.length, ...contents]
}
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
const I32 = 0x7f
const FUNC = 0x60
const EXPORT_FUNC = 0x00
const EXPORT_MEMORY = 0x02

/**
 * `hello.wasm`: imports `fd_write`, writes "honk from wasm\n" to fd 1 with one iovec, returns.
 *   (memory 1) (data (i32.const 16) "honk from wasm\n")
 *   _start: store {16, 15} at 0; drop (fd_write 1 0 1 8)
 */
export function helloWasm(text = 'honk from wasm\n'): Uint8Array {
  const data = utf8(text)
  if (data.length > 100) throw new Error('hello text too long')
  const body = [
    0x00, // no locals
    0x41, 0x00, 0x41, 0x10, 0x36, 0x02, 0x00, // i32.store (0) = 16
    0x41, 0x04, 0x41, data.length, 0x36, 0x02, 0x00, // i32.store (4) = len
    0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x08, 0x10, 0x00, 0x1a, // drop (call fd_write 1 0 1 8)
    0x0b,
  ]
  return Uint8Array.from([
    ...HEADER,
    ...section(1, [0x02, FUNC, 0x04, I32, I32, I32, I32, 0x01, I32, FUNC, 0x00, 0x00]),
    ...section(2, [0x01, ...name('wasi_snapshot_preview1'), ...name('fd_write'), 0x00, 0x00]),
    ...section(3, [0x01, 0x01]),
    ...section(5, [0x01, 0x00, 0x01]),
    ...section(7, [0x02, ...name('memory'), EXPORT_MEMORY, 0x00, ...name('_start'), EXPORT_FUNC, 0x01]),
    ...section(10, [0x01, body.length, ...body]),
    ...section(11, [0x01, 0x00, 0x41, 0x10, 0x0b, data.length, ...data]),
  ])
}

/** `loop.wasm`: `_start` is `loop br 0 end` — it never returns; only `kill` ends it. */
export function loopWasm(): Uint8Array {
  const body = [0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b]
  return Uint8Array.from([
    ...HEADER,
    ...section(1, [0x01, FUNC, 0x00, 0x00]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, 0x01]),
    ...section(7, [0x02, ...name('memory'), EXPORT_MEMORY, 0x00, ...name('_start'), EXPORT_FUNC, 0x00]),
    ...section(10, [0x01, body.length, ...body]),
  ])
}

/** The programs the core ships: path → bytes (textool.wasm only once built). */
export function corePrograms(): Record<string, Uint8Array> {
  return {
    'hello.wasm': helloWasm(),
    'loop.wasm': loopWasm(),
    ...(existsSync(TEXTOOL_WASM) ? { 'textool.wasm': new Uint8Array(readFileSync(TEXTOOL_WASM)) } : {}),
  }
}

/** The newest modification time among the built programs the core takes (0 when none is built). */
export function programsMtime(): number {
  return existsSync(TEXTOOL_WASM) ? statSync(TEXTOOL_WASM).mtimeMs : 0
}
