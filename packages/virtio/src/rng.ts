/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one queue; each writable buffer is
 * filled with random bytes from `crypto.getRandomValues` (or an injected source).
 */
import { DEVICE_ID } from './constants.js'
import { RequestDevice } from './request.js'

/** A source of random bytes: fills `buf` entirely. */
export type RandomSource = (buf: Uint8Array) => void

/** `crypto.getRandomValues`, in the 64 KiB pieces it accepts. */
export const cryptoRandom: RandomSource = (buf) => {
  for (let o = 0; o < buf.length; o += 65536) globalThis.crypto.getRandomValues(buf.subarray(o, Math.min(buf.length, o + 65536)))
}

export interface VirtioRngOptions {
  readonly source?: RandomSource
  /** Most bytes given per request (the rest of a bigger buffer is left alone); default 64 KiB. */
  readonly maxPerRequest?: number
  readonly queueSize?: number
}

export class VirtioRng extends RequestDevice {
  constructor(options: VirtioRngOptions = {}) {
    const source = options.source ?? cryptoRandom
    const max = options.maxPerRequest ?? 65536
    super({
      name: 'virtio-rng',
      deviceId: DEVICE_ID.ENTROPY,
      queueSize: options.queueSize ?? 64,
      // §5.4.6: the device writes random bytes into the writable part; nothing is read.
      maxRequest: 0,
      handler: (_request, room) => {
        const out = new Uint8Array(Math.min(room, max))
        source(out)
        return out
      },
    })
  }
}
