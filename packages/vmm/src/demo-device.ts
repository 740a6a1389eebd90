/**
 * The Go honk's demo device (inventory §1.9.13): Magic (reads 'M'), Out (prints a byte), Arm
 * (arms a repeating interrupt), IRQ (reads 1 and acks a pending interrupt, else 0) and Notify
 * (drains the fixed-offset split virtqueue, printing each buffer). Registers match by exact
 * offset whatever the width; anything else reads 0 and ignores writes.
 */
import type { AccessSize, MmioDevice } from '@honk/riscv'
import { DEMO_MAGIC, DEMO_REG, GUEST_BASE, VIRTQ_AVAIL_OFF, VIRTQ_DESC_OFF, VIRTQ_SIZE, VIRTQ_USED_OFF } from './constants.js'
import type { GuestRam } from './memory.js'
import type { IrqLine } from '@honk/virtio'

export class DemoDevice implements MmioDevice {
  readonly name = 'vmm-demo'
  readonly size = 0x1000
  private armed = false
  private pending = false
  private lastAvail = 0

  constructor(
    private readonly ram: GuestRam,
    private readonly irq: IrqLine,
    private readonly out: (byte: number) => void,
  ) {}

  read(offset: number, _size: AccessSize): bigint {
    switch (offset) {
      case DEMO_REG.MAGIC:
        return BigInt(DEMO_MAGIC)
      case DEMO_REG.IRQ:
        if (!this.pending) return 0n
        this.pending = false
        this.irq.set(false)
        return 1n
      default:
        return 0n
    }
  }

  write(offset: number, _size: AccessSize, value: bigint): void {
    switch (offset) {
      case DEMO_REG.OUT:
        this.out(Number(value & 0xffn))
        break
      case DEMO_REG.ARM:
        this.armed = value !== 0n
        break
      case DEMO_REG.NOTIFY:
        this.process()
        break
    }
  }

  /** The repeating interrupt of an armed device: raised again whenever the last one was acked (the VMM calls this between guest slices). */
  tick(): void {
    if (this.armed && !this.pending) this.raise()
  }

  private raise(): void {
    this.pending = true
    this.irq.set(true)
  }

  /**
   * The minimal backend: from the last consumed index up to avail.idx, at most {@link VIRTQ_SIZE}
   * entries per notify; heads ≥ 4 are skipped; each buffer is validated against guest RAM before
   * it is printed; the used entry is {head, len} and used.idx the new count. Then the interrupt.
   */
  private process(): void {
    const base = BigInt(GUEST_BASE)
    const availIdx = this.ram.load(base + BigInt(VIRTQ_AVAIL_OFF + 2), 2)
    if (availIdx === undefined) return
    let n = 0
    while ((this.lastAvail & 0xffff) !== Number(availIdx) && n < VIRTQ_SIZE) {
      const slot = this.lastAvail % VIRTQ_SIZE
      const head = Number(this.ram.load(base + BigInt(VIRTQ_AVAIL_OFF + 4 + 2 * slot), 2) ?? 0xffffn)
      this.lastAvail = (this.lastAvail + 1) & 0xffff
      n++
      if (head >= VIRTQ_SIZE) continue
      const d = base + BigInt(VIRTQ_DESC_OFF + 16 * head)
      const addr = this.ram.load(d, 8) ?? 0n
      const len = Number(this.ram.load(d + 8n, 4) ?? 0n)
      if (addr > BigInt(Number.MAX_SAFE_INTEGER) || !this.ram.contains(Number(addr), len)) continue // a guest's bad pointer: skip
      const buf = new Uint8Array(len)
      this.ram.read(Number(addr), buf)
      for (const b of buf) this.out(b)
      this.ram.store(base + BigInt(VIRTQ_USED_OFF + 4 + 8 * slot), 4, BigInt(head))
      this.ram.store(base + BigInt(VIRTQ_USED_OFF + 8 + 8 * slot), 4, BigInt(len))
      this.ram.store(base + BigInt(VIRTQ_USED_OFF + 2), 2, BigInt(this.lastAvail))
    }
    this.raise()
  }
}
