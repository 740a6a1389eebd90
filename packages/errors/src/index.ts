/**
 * The error base of every `@honk` package.
 *
 * Each failure a caller may want to handle is a subclass of {@link HonkError} with a stable
 * string `code` (`'KV_CORRUPT'`, `'BLOCK_RANGE'`, `'ENOENT'`…). Messages say what was wrong and
 * where; the `code` is what programs branch on.
 *
 * @example
 * ```ts
 * import { HonkError } from '@honk/errors'
 * try { await kv.get(key) } catch (e) { if (HonkError.is(e, 'KV_CORRUPT')) … }
 * ```
 * @packageDocumentation
 */

/** Base class of every typed error thrown by a `@honk` package. */
export class HonkError extends Error {
  /** A stable, machine-readable code, e.g. `'KV_CORRUPT'`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    // Subclasses get their own name without repeating it in every constructor.
    this.name = new.target.name
  }

  /** True when `e` is a {@link HonkError}, optionally with the given `code`. */
  static is(e: unknown, code?: string): e is HonkError {
    return e instanceof HonkError && (code === undefined || e.code === code)
  }
}
