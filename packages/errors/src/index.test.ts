import { describe, expect, expectTypeOf, it } from 'vitest'
import { HonkError, type HonkErrorCode } from './index.js'

class ExampleError extends HonkError<'EXAMPLE'> {
  constructor(readonly where: string) {
    super('EXAMPLE', `example failed at ${where}`)
  }
}

/** Two classes that share a code (as FsError and P9RemoteError share ENOENT). */
class SharedA extends HonkError<'EXAMPLE_SHARED' | 'EXAMPLE_A'> {
  constructor(code: 'EXAMPLE_SHARED' | 'EXAMPLE_A') {
    super(code, 'a')
  }
}
class SharedB extends HonkError<'EXAMPLE_SHARED'> {
  constructor() {
    super('EXAMPLE_SHARED', 'b')
  }
}

declare module './index.js' {
  interface HonkErrorClasses {
    ExampleError: ExampleError
    SharedA: SharedA
    SharedB: SharedB
  }
}

describe('HonkError', () => {
  it('carries a code, the subclass name and the message', () => {
    const e = new ExampleError('block 7')
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe('ExampleError')
    expect(e.code).toBe('EXAMPLE')
    expect(e.message).toBe('example failed at block 7')
  })
  it('is() matches by class and optionally by code', () => {
    const e = new ExampleError('x')
    expect(HonkError.is(e)).toBe(true)
    expect(HonkError.is(e, 'EXAMPLE')).toBe(true)
    expect(HonkError.is(e, 'EXAMPLE_SHARED')).toBe(false)
    expect(HonkError.is(new Error('plain'))).toBe(false)
  })

  // Type-level (checked by `pnpm typecheck`; the @ts-expect-error lines fail it if they compile).
  it('a code typo does not compile; is() narrows to the classes that carry the code', () => {
    const e: unknown = new ExampleError('x')
    // @ts-expect-error — 'EXAMPEL' is no registered class's code
    expect(HonkError.is(e, 'EXAMPEL')).toBe(false)
    if (HonkError.is(e, 'EXAMPLE')) {
      expectTypeOf(e).toEqualTypeOf<ExampleError & { readonly code: 'EXAMPLE' }>()
      expect(e.where).toBe('x') // a property of the subclass, reachable without a cast
    }
    const shared: unknown = new SharedB()
    if (HonkError.is(shared, 'EXAMPLE_SHARED')) expectTypeOf(shared).toEqualTypeOf<(SharedA & { readonly code: 'EXAMPLE_SHARED' }) | (SharedB & { readonly code: 'EXAMPLE_SHARED' })>()
    expect(HonkError.is(shared, 'EXAMPLE_SHARED')).toBe(true)

    class Typo extends HonkError<'EXAMPLE'> {
      constructor() {
        // @ts-expect-error — a subclass's super() must pass its own code
        super('EXAMPEL', 'typo')
      }
    }
    expect(new Typo().code).toBe('EXAMPEL') // compiles only with the expected error above
    // No registered class carries a plain `string` code: that would make every string a code.
    expectTypeOf<string>().not.toExtend<HonkErrorCode>()
    expectTypeOf<'EXAMPLE' | 'EXAMPLE_A' | 'EXAMPLE_SHARED'>().toExtend<HonkErrorCode>()
  })
})
