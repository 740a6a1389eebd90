import { describe, expect, it } from 'vitest'
import { HonkError } from './index.js'

class ExampleError extends HonkError {
  constructor(where: string) {
    super('EXAMPLE', `example failed at ${where}`)
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
    expect(HonkError.is(e, 'OTHER')).toBe(false)
    expect(HonkError.is(new Error('plain'))).toBe(false)
  })
})
