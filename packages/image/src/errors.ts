import { HonkError } from '@honk/errors'

/** Which verification check failed. Verification fails closed: the first failing check wins. */
export type ImageCheck = 'format' | 'signature' | 'rollback' | 'merkle' | 'table' | 'bounds' | 'compatible'

/** An image failed a check; `check` names it, the message says where. */
/** The code of an {@link ImageVerifyError}: `IMAGE_` and the check, e.g. `IMAGE_SIGNATURE`. */
export type ImageVerifyCode = `IMAGE_${Uppercase<ImageCheck>}`

export class ImageVerifyError extends HonkError<ImageVerifyCode> {
  constructor(readonly check: ImageCheck, detail: string) {
    super(`IMAGE_${check.toUpperCase() as Uppercase<ImageCheck>}`, `image ${check} check failed: ${detail}`)
  }
}

/** A read of a lazily verified file hit a block whose hash does not match the tree. */
export class ImageCorruptBlockError extends HonkError<'IMAGE_CORRUPT_BLOCK'> {
  constructor(readonly block: number) {
    super('IMAGE_CORRUPT_BLOCK', `image data block ${block} does not match its Merkle tree hash`)
  }
}

/** Slot metadata or a slot request that cannot be honoured. */
export class SlotError extends HonkError<'IMAGE_SLOT'> {
  constructor(message: string) {
    super('IMAGE_SLOT', message)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    ImageVerifyError: ImageVerifyError
    ImageCorruptBlockError: ImageCorruptBlockError
    SlotError: SlotError
  }
}
