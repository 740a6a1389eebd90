/**
 * The numbers of honk's VMM (the Go honk's `kernel/vmm`, inventory §1.8): trap causes, page-table
 * bits and sizes, the guest's memory layout and the demo device's registers. The ISA's own numbers
 * (CSR addresses, causes, SBI IDs) come from `@honk/riscv`.
 */
import { CAUSE, VIRT_MAP } from '@honk/riscv'

/** An ecall from VS-mode (10), and the guest-page faults on fetch, load and store (20, 21, 23). */
export const TRAP = {
  ECALL_VS: CAUSE.ECALL_VS,
  FETCH_GUEST_PAGE: CAUSE.FETCH_GUEST_PAGE,
  LOAD_GUEST_PAGE: CAUSE.LOAD_GUEST_PAGE,
  VIRTUAL_INSTRUCTION: CAUSE.VIRTUAL_INSTRUCTION,
  STORE_GUEST_PAGE: CAUSE.STORE_GUEST_PAGE,
} as const

/** hgatp.MODE values (privileged spec §8.2.10) and satp's Sv39. */
export const HGATP_BARE = 0
export const HGATP_SV39X4 = 8
export const HGATP_SV48X4 = 9
export const SATP_SV39 = 8
export const SATP_SV48 = 9

/** Page-table entry bits (privileged spec §4.3.1). */
export const PTE = { V: 1, R: 2, W: 4, X: 8, U: 16, G: 32, A: 64, D: 128 } as const

/**
 * G-stage leaves: V|R|W|X|U|A|D = 0xDF. **U is required**: every G-stage access is checked as a
 * user-mode access (privileged spec §8.5.1), so a leaf without U faults for the guest's kernel too.
 */
export const LEAF_RWX = PTE.V | PTE.R | PTE.W | PTE.X | PTE.U | PTE.A | PTE.D
/** VS-stage leaves of the identity map a VMM seeds for a guest kernel: V|R|W|X|A|D = 0xCF, without U. */
export const VS_LEAF_RWX = PTE.V | PTE.R | PTE.W | PTE.X | PTE.A | PTE.D

export const PAGE_SIZE = 4096
export const MEGAPAGE_SIZE = 2 << 20
export const GIGAPAGE_SIZE = 1 << 30
/** The Sv39x4/Sv48x4 root table: 16 KiB, 16 KiB-aligned (2048 entries: the guest-physical space is 4× wider). */
export const ROOT_SIZE = 16 << 10
export const PAGE_TABLE_SIZE = 4096

/** Where guest RAM starts in the guest-physical space (as on QEMU virt). */
export const GUEST_BASE = 0x8000_0000
/** Where the paging demo's identity VS-stage root and L1 table sit, as offsets into guest RAM. */
export const VS_ROOT_OFF = 0x4000
export const VS_L1_OFF = 0x5000

/**
 * The demo device of the Go honk's seven guests (inventory §1.8): an MMIO window with five
 * registers, at the guest-physical address where the virt board has its UART (0x1000_0000).
 */
export const DEMO_MMIO_BASE = VIRT_MAP.uart.base
export const DEMO_REG = { MAGIC: 0, OUT: 8, ARM: 16, IRQ: 24, NOTIFY: 32 } as const
/** What the Magic register reads: 'M'. */
export const DEMO_MAGIC = 0x4d
/** The demo virtqueue: 4 entries, descriptors at +0x200, avail ring at +0x280, used ring at +0x300, data at +0x400 of guest RAM. */
export const VIRTQ_SIZE = 4
export const VIRTQ_DESC_OFF = 0x200
export const VIRTQ_AVAIL_OFF = 0x280
export const VIRTQ_USED_OFF = 0x300
export const VIRTIO_BUF_OFF = 0x400

/** The most bytes one DBCN console_write moves (the guest loops on the count it gets back). */
export const DBCN_MAX_WRITE = 4096
