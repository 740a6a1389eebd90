/**
 * virtio-9p, the "9P transport" device (device ID 9): one request queue; each chain's
 * readable part is one T-message, its writable part receives the R-message. The 9P server is
 * not here — the machine plugs in a message handler (the `@honk/p9` server) so this layer
 * depends on no 9P code (DESIGN §2).
 */
import { HonkError } from '@honk/errors'
import { DEVICE_ID } from './constants.js'
import { VirtioConfigError } from './errors.js'
import { RequestDevice } from './request.js'

/** VIRTIO_9P_MOUNT_TAG: the config space holds a mount tag. */
export const P9_F_MOUNT_TAG = 1n << 0n

/** Answers one 9P T-message with its R-message. */
export type P9Handler = (request: Uint8Array) => Promise<Uint8Array>

/** Linux errno values used in the Rlerror the device makes up when the handler fails. */
const EIO = 5
const EMSGSIZE = 90
/** 9P2000.L Rlerror message type. */
const RLERROR = 7

/**
 * An Rlerror (9P2000.L: size[4] type[1]=7 tag[2] ecode[4]) answering `request`'s tag, or
 * undefined when the request is too short to have one.
 */
export function rlerror(request: Uint8Array, errno: number): Uint8Array | undefined {
  if (request.length < 7) return undefined
  const out = new Uint8Array(11)
  const v = new DataView(out.buffer)
  v.setUint32(0, 11, true)
  v.setUint8(4, RLERROR)
  out[5] = request[5]!
  out[6] = request[6]!
  v.setUint32(7, errno, true)
  return out
}

export interface VirtioP9Options {
  /** Queue size; default 128. */
  readonly queueSize?: number
  /** Largest T-message accepted (the negotiated msize cannot exceed it usefully); default 16 MiB. */
  readonly maxMessage?: number
}

/**
 * A virtio-9p device with mount tag `tag` (what the guest names in
 * `mount -t 9p -o trans=virtio <tag> /mnt`). When the handler rejects, or answers with more
 * than the guest's buffer holds, the guest gets an Rlerror (EIO / EMSGSIZE) for that tag, so
 * its request does not hang.
 */
export class VirtioP9 extends RequestDevice {
  constructor(
    readonly tag: string,
    handler: P9Handler,
    options: VirtioP9Options = {},
  ) {
    const bytes = new TextEncoder().encode(tag)
    if (bytes.length === 0 || bytes.length > 0xffff) throw new VirtioConfigError(`9p mount tag "${tag}" must be 1..65535 bytes`)
    // struct virtio_9p_config: le16 tag_len; u8 tag[tag_len] (no terminating NUL).
    const config = new Uint8Array(2 + bytes.length)
    new DataView(config.buffer).setUint16(0, bytes.length, true)
    config.set(bytes, 2)
    super({
      name: 'virtio-9p',
      deviceId: DEVICE_ID.P9,
      features: P9_F_MOUNT_TAG,
      config,
      queueSize: options.queueSize ?? 128,
      maxRequest: options.maxMessage ?? 16 << 20,
      handler: (request) => handler(request),
      onError: (request, error) => rlerror(request, HonkError.is(error, 'VIRTIO_ANSWER_TOO_LONG') ? EMSGSIZE : EIO),
    })
  }
}
