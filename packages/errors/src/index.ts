/**
 * The error base of every `@honk` package.
 *
 * Each failure a caller may want to handle is a subclass of {@link HonkError} with a stable
 * string `code` (`'KV_CORRUPT'`, `'BLOCK_RANGE'`, `'ENOENT'`…). Messages say what was wrong and
 * where; the `code` is what programs branch on.
 *
 * Codes are checked at compile time: each package lists its error classes in
 * {@link HonkErrorClasses} (declaration merging), each class names its code as a literal type
 * (`extends HonkError<'KV_CORRUPT'>`), and then a code that no class carries does not compile —
 * neither in `super(…)` nor in {@link HonkError.is}, which narrows to the classes that carry it.
 *
 * @example
 * ```ts
 * import { HonkError } from '@honk/errors'
 * export class KvCorruptError extends HonkError<'KV_CORRUPT'> { … }
 * declare module '@honk/errors' {
 *   interface HonkErrorClasses { KvCorruptError: KvCorruptError }
 * }
 * try { await kv.get(key) } catch (e) { if (HonkError.is(e, 'KV_CORRUPT')) e.where }   // e: KvCorruptError
 * HonkError.is(e, 'KV_CORUPT')                                                           // does not compile
 * ```
 * @packageDocumentation
 */

/**
 * Every error class of the `@honk` packages (and of any program that adds its own), by class
 * name: a package adds its classes by declaration merging,
 * `declare module '@honk/errors' { interface HonkErrorClasses { KvCorruptError: KvCorruptError } }`.
 * The codes come from each class's `code` type, so two classes may share one (`ENOENT` is both
 * an `FsError`'s and a `P9RemoteError`'s).
 */
export interface HonkErrorClasses {}

/** Every code a registered error class can carry. */
export type HonkErrorCode = HonkErrorClasses[keyof HonkErrorClasses]['code']

/** The registered error classes that can carry `C`, with `code` narrowed to it. */
export type HonkErrorWithCode<C extends HonkErrorCode> = {
  [K in keyof HonkErrorClasses]: C extends HonkErrorClasses[K]['code'] ? HonkErrorClasses[K] & { readonly code: C } : never
}[keyof HonkErrorClasses]

/**
 * Base class of every typed error thrown by a `@honk` package. `C` is the code (or the union of
 * codes) the subclass carries: a literal type, so that a typo in `super(…)` does not compile and
 * the class can be listed in {@link HonkErrorClasses}.
 */
export class HonkError<C extends string = string> extends Error {
  /** A stable, machine-readable code, e.g. `'KV_CORRUPT'`. */
  readonly code: C

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    // Subclasses get their own name without repeating it in every constructor.
    this.name = new.target.name
  }

  /** True when `e` is a {@link HonkError}. */
  static is(e: unknown): e is HonkError
  /** True when `e` is a {@link HonkError} with `code`; narrows to the classes that carry it. */
  static is<C extends HonkErrorCode>(e: unknown, code: C): e is HonkErrorWithCode<C>
  static is(e: unknown, code?: string): boolean {
    return e instanceof HonkError && (code === undefined || e.code === code)
  }
}
