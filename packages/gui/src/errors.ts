import { HonkError } from '@honk/errors'

/** The toolkit was used wrongly by the program (a bad size, an unbalanced clip, a widget added twice). */
export class GuiError extends HonkError<'GUI'> {
  constructor(message: string) {
    super('GUI', message)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    GuiError: GuiError
  }
}
