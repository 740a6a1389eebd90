/**
 * The contract between the virtio transport and a device model — the hook every device
 * (blk, net, console, rng, 9p, and later gpu/input) plugs into.
 */
import type { HonkError } from '@honk/errors'
import { VirtioConfigError } from './errors.js'
import type { GuestMemory } from './memory.js'
import type { Virtqueue } from './virtqueue.js'

/** What the transport offers a device model. */
export interface VirtioContext {
  readonly memory: GuestMemory
  /** The features both sides agreed on (meaningful once the driver set FEATURES_OK). */
  readonly features: bigint
  /**
   * Queue `index` when the device may use it: the driver set DRIVER_OK and made the queue ready.
   * undefined otherwise — a model then simply keeps its work for later.
   */
  queue(index: number): Virtqueue | undefined
  /** The device changed its config space: bumps ConfigGeneration and raises the config interrupt. */
  configChanged(): void
  /** The device hit an error only a reset cures: sets DEVICE_NEEDS_RESET (§2.1.2). */
  needsReset(reason: string): void
  /** Hands a guest-caused problem to the host's error hook (for logs; the guest is not told). */
  report(error: HonkError): void
}

/** A virtio device model. The transport (`VirtioMmio`) owns one and drives it. */
export interface VirtioDevice {
  /** Short name for logs and errors, e.g. `'virtio-blk'`. */
  readonly name: string
  /** The virtio device ID (§5): 1 net, 2 block, 3 console, 4 entropy, 9 9P transport… */
  readonly deviceId: number
  /**
   * Device-specific feature bits offered. The transport adds VIRTIO_F_VERSION_1,
   * VIRTIO_F_RING_INDIRECT_DESC and VIRTIO_F_RING_EVENT_IDX itself.
   */
  readonly features: bigint
  /** The maximum size of each virtqueue; its length is the number of queues. */
  readonly queueSizes: readonly number[]
  /** The device configuration space (little-endian), read by the transport at 0x100. */
  readonly config: Uint8Array
  /** A driver write into the config space (the model decides what is writable). */
  writeConfig?(offset: number, size: number, value: bigint): void
  /** Called once, by the transport's constructor. */
  attach(ctx: VirtioContext): void
  /** The driver made buffers available on `queue` (QueueNotify, or DRIVER_OK). */
  notify(queue: number): void
  /** The driver set DRIVER_OK. */
  activate?(): void
  /** Device reset (status 0): forget queues, requests in flight and negotiated state. */
  reset(): void
}

/** Shared plumbing of the models in this package. */
export abstract class VirtioDeviceBase implements VirtioDevice {
  abstract readonly name: string
  abstract readonly deviceId: number
  abstract readonly features: bigint
  abstract readonly queueSizes: readonly number[]
  abstract readonly config: Uint8Array
  private context: VirtioContext | undefined

  attach(ctx: VirtioContext): void {
    this.context = ctx
  }

  /** The transport; throws only on a host programming error (a model used unattached). */
  protected get ctx(): VirtioContext {
    if (!this.context) throw new VirtioConfigError(`${this.name} is not attached to a transport`)
    return this.context
  }

  protected get attached(): boolean {
    return this.context !== undefined
  }

  /** True when the driver accepted feature `bit`. */
  protected negotiated(bit: bigint): boolean {
    return this.context !== undefined && (this.context.features & bit) !== 0n
  }

  abstract notify(queue: number): void
  abstract reset(): void
}
