/**
 * Formatting helpers the commands share: Go's spellings (durations, `%q`, `Atoi`) where the
 * shell's output follows the Go honk, paths as the shell reads them, and error text.
 */
import { isFsError, type FS, type Stat } from '@honk/vfs'
import type { ProcessInfo } from '@honk/proc'

export const KiB = 1024
export const MiB = 1024 * 1024

/**
 * A shell argument as a path of the root FS, like the Go honk's `path.Clean("/"+arg)` with the
 * leading "/" removed: "." for the root, and ".." at the top stays at the top.
 */
export function shellPath(arg: string): string {
  const parts: string[] = []
  for (const part of arg.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') parts.pop()
    else parts.push(part)
  }
  return parts.length === 0 ? '.' : parts.join('/')
}

/** Go's `time.Duration.String()` of `ns` nanoseconds: "0s", "250ms", "1.5µs", "3.123456789s", "1h2m3.5s". */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s'
  const sign = ns < 0n ? '-' : ''
  const u = ns < 0n ? -ns : ns
  if (u < 1000n) return `${sign}${u}ns`
  if (u < 1_000_000n) return `${sign}${u / 1000n}${fraction(u % 1000n, 3)}µs`
  if (u < 1_000_000_000n) return `${sign}${u / 1_000_000n}${fraction(u % 1_000_000n, 6)}ms`
  const secs = u / 1_000_000_000n
  let out = `${secs % 60n}${fraction(u % 1_000_000_000n, 9)}s`
  const mins = secs / 60n
  if (mins > 0n) {
    out = `${mins % 60n}m${out}`
    const hours = mins / 60n
    if (hours > 0n) out = `${hours}h${out}`
  }
  return sign + out
}

/** ".ddd" of `v` as a `digits`-digit fraction without trailing zeros; "" when zero. */
function fraction(v: bigint, digits: number): string {
  const s = v.toString().padStart(digits, '0').replace(/0+$/, '')
  return s === '' ? '' : `.${s}`
}

/** Go's `%q` of a string. */
export function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (c >= 0x20 && c < 0x7f) out += ch
    else if (c in GO_ESCAPES) out += GO_ESCAPES[c]
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += `\\U${c.toString(16).padStart(8, '0')}`
  }
  return `${out}"`
}

const GO_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' }

/** Go's `strconv.Atoi` for the values a shell needs: an optional sign and decimal digits. */
export function parseGoInt(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A process's UPTIME column: time since spawn (until it ended), rounded to 1 ms. */
export function uptimeOf(p: ProcessInfo, now: number): string {
  const ms = Math.max(0, Math.round((p.ended ?? now) - p.started))
  return goDuration(BigInt(ms) * 1_000_000n)
}

/** An `ls` line: "  name/ <dir>" or "  name  <size>". */
export function entryLine(name: string, st: Stat): string {
  return st.type === 'dir' ? `  ${`${name}/`.padEnd(22)} <dir>` : `  ${name.padEnd(22)} ${st.size}`
}

/** `stat` of `path` in one layer, or undefined when that layer does not have it. */
export async function statIfPresent(fs: FS, path: string): Promise<Stat | undefined> {
  try {
    return await fs.stat(path)
  } catch (e) {
    if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return undefined
    throw e
  }
}

/** Go's wording for the errors a user sees most (`fs.ErrNotExist`, `fs.ErrExist`). */
const GO_FS_TEXT: Partial<Record<string, string>> = { ENOENT: 'file does not exist', EEXIST: 'file already exists' }

/** "<path>: <what went wrong>" for a filesystem error; the message for anything else. */
export function describeError(e: unknown): string {
  if (!isFsError(e)) return errorMessage(e)
  const path = e.path === '' ? '.' : e.path
  const prefix = `${e.op} ${e.path === '' ? '/' : e.path}: `
  const text = GO_FS_TEXT[e.code] ?? (e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message)
  return `${path}: ${text}`
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
