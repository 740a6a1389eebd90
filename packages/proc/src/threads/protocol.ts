/**
 * The messages between a `HartThreads` pool (the kernel's thread) and one hart's thread
 * (`serveHartTasks`). Either side may be hostile or broken, so each side checks what it
 * receives (`parseThreadMessage`, `parsePoolMessage`) instead of trusting its shape.
 */

/** A value that crosses the thread boundary: structured-cloneable data (no functions). */
export type ThreadValue = null | boolean | number | string | bigint | Uint8Array | readonly ThreadValue[] | { readonly [key: string]: ThreadValue }

/** Pool → thread. */
export type PoolMessage =
  | { readonly kind: 'run'; readonly id: number; readonly hart: number; readonly task: string; readonly args: ThreadValue }
  | { readonly kind: 'kill'; readonly id: number; readonly reason: string }

/** Why a task did not return, as it crosses back. */
export interface WireError {
  readonly name: string
  readonly message: string
  readonly code?: string
}

/** Thread → pool. */
export type ThreadMessage =
  | { readonly kind: 'done'; readonly id: number; readonly value: ThreadValue }
  | { readonly kind: 'failed'; readonly id: number; readonly error: WireError }
  | { readonly kind: 'killed'; readonly id: number; readonly reason: string }

const isRecord = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null && !Array.isArray(m)
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** A thread's message, or a sentence saying what is wrong with it. */
export function parseThreadMessage(m: unknown): ThreadMessage | string {
  if (!isRecord(m)) return `not an object (${m === null ? 'null' : typeof m})`
  if (!isId(m.id)) return `"id" is not a non-negative integer (${String(m.id)})`
  switch (m.kind) {
    case 'done':
      return { kind: 'done', id: m.id, value: m.value as ThreadValue }
    case 'failed': {
      const e = m.error
      if (!isRecord(e) || typeof e.message !== 'string' || typeof e.name !== 'string') return `"failed" without an error { name, message }`
      return { kind: 'failed', id: m.id, error: { name: e.name, message: e.message, ...(typeof e.code === 'string' ? { code: e.code } : {}) } }
    }
    case 'killed':
      return typeof m.reason === 'string' ? { kind: 'killed', id: m.id, reason: m.reason } : '"killed" without a reason'
    default:
      return `unknown kind ${JSON.stringify(String(m.kind))}`
  }
}

/** The pool's message, or a sentence saying what is wrong with it. */
export function parsePoolMessage(m: unknown): PoolMessage | string {
  if (!isRecord(m)) return `not an object (${m === null ? 'null' : typeof m})`
  if (!isId(m.id)) return `"id" is not a non-negative integer (${String(m.id)})`
  switch (m.kind) {
    case 'run':
      if (!isId(m.hart)) return `"hart" is not a non-negative integer (${String(m.hart)})`
      if (typeof m.task !== 'string') return '"task" is not a string'
      return { kind: 'run', id: m.id, hart: m.hart, task: m.task, args: m.args as ThreadValue }
    case 'kill':
      return { kind: 'kill', id: m.id, reason: typeof m.reason === 'string' ? m.reason : 'killed' }
    default:
      return `unknown kind ${JSON.stringify(String(m.kind))}`
  }
}
