import { HonkError } from '@honk/errors'

/**
 * The driver broke a virtqueue rule (a descriptor outside RAM, a chain loop, a nested indirect
 * table…). The device never throws it at the guest: it fails the request or sets
 * DEVICE_NEEDS_RESET, and hands the error to the host's `onError` hook for logging.
 */
export class VirtqueueError extends HonkError<'VIRTIO_QUEUE'> {
  /** `queue` is -1 for a problem of the device as a whole (status, features). */
  constructor(readonly device: string, readonly queue: number, message: string) {
    super('VIRTIO_QUEUE', queue < 0 ? `${device}: ${message}` : `${device} queue ${queue}: ${message}`)
  }
}

/** A well-formed chain carried a request the device model could not make sense of. */
export class VirtioRequestError extends HonkError<'VIRTIO_REQUEST'> {
  constructor(readonly device: string, message: string) {
    super('VIRTIO_REQUEST', `${device}: ${message}`)
  }
}

/** The host configured a device wrongly (a MAC that is not 6 bytes, a mount tag too long…). */
export class VirtioConfigError extends HonkError<'VIRTIO_CONFIG'> {
  constructor(message: string) {
    super('VIRTIO_CONFIG', message)
  }
}

/** Driver side: the device is not what was expected, refused the features, or a queue is full. */
export class VirtioDriverError extends HonkError<'VIRTIO_DRIVER'> {
  constructor(message: string) {
    super('VIRTIO_DRIVER', message)
  }
}

/** A request handler's answer is longer than the writable buffer the driver supplied. */
export class VirtioAnswerTooLongError extends HonkError<'VIRTIO_ANSWER_TOO_LONG'> {
  constructor(readonly device: string, readonly length: number, readonly room: number) {
    super('VIRTIO_ANSWER_TOO_LONG', `${device}: answer of ${length} bytes does not fit the ${room}-byte buffer`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    VirtqueueError: VirtqueueError
    VirtioRequestError: VirtioRequestError
    VirtioConfigError: VirtioConfigError
    VirtioDriverError: VirtioDriverError
    VirtioAnswerTooLongError: VirtioAnswerTooLongError
  }
}
