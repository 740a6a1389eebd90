/**
 * The Go honk's seven demo guests (inventory §1.8): pure functions returning little-endian RISC-V
 * machine code that runs in VS-mode at guest-physical {@link GUEST_BASE}. Sizes are those of the
 * Go payloads for the arguments honk passes (348, 168, 496, 88, 52, 100, 120 bytes).
 */
import { BASE_FID, CSR, DBCN_FID, EID } from '@honk/riscv'
import { DEMO_MMIO_BASE, DEMO_REG, VIRTIO_BUF_OFF, VIRTQ_AVAIL_OFF, VIRTQ_DESC_OFF, VIRTQ_USED_OFF } from './constants.js'
import { ECALL, J_SELF, R, SFENCE_VMA, SRET, WFI, add, addi, beq, bne, csrs, csrw, jal, lbu, li, loadAddr, loadImm32, lui, or, rdtime, sb, sd, slli, words } from './encode.js'

const { t0, t1, t2, t3, s0, s1, a0, a1, a2, a6, a7 } = R
const SSTATUS_SIE = 2
const SIE_STIE = 1 << 5
const SIE_SEIE = 1 << 9

/** li a7, 8; ecall; j . — the legacy shutdown every guest ends with. */
const shutdown = (): number[] => [li(a7, EID.LEGACY_SHUTDOWN), ECALL, J_SELF]
/** legacy console_putchar(c): li a7, 1; li a0, c; ecall. */
const putchar = (c: number): number[] => [li(a7, EID.LEGACY_CONSOLE_PUTCHAR), li(a0, c), ECALL]
/** Base probe_extension(eid): the answer lands in a1. */
const probe = (eid: number): number[] => [li(a7, EID.BASE), li(a6, BASE_FID.PROBE_EXTENSION), ...loadImm32(a0, eid), ECALL]

function bytesOf(s: string): number[] {
  return [...new TextEncoder().encode(s)]
}

/** For each byte of `msg`: legacy putchar; then shutdown. 348 bytes for "honk: hello from a guest VM\n". */
export function demoGuest(msg: string): Uint8Array {
  return words([...bytesOf(msg).flatMap(putchar), ...shutdown()])
}

/**
 * Ticks `n` times on VS-timer interrupts: vstvec = handler, sie.STIE and sstatus.SIE on; probes
 * Base for TIME (absent: shutdown); set_timer(rdtime + 50 000) ≈ 5 ms at 10 MHz; `wfi` loop. The
 * handler prints `tick`, counts down, and re-arms and `sret`s, or shuts down. 168 bytes.
 */
export function timerGuest(tick: string, n: number): Uint8Array {
  const HANDLER = 25 * 4
  const SHUTDOWN = 39 * 4
  const arm = (): number[] => [rdtime(t0), ...loadImm32(t1, 50_000), add(a0, t0, t1), ...loadImm32(a7, EID.TIME), li(a6, 0), ECALL]
  const w = [
    li(s0, n), // 0
    ...loadAddr(t0, HANDLER), // 1–3
    csrw(CSR.stvec, t0), // 4 (vstvec under V = 1)
    li(t0, SIE_STIE), // 5
    csrs(CSR.sie, t0), // 6
    li(t0, SSTATUS_SIE), // 7
    csrs(CSR.sstatus, t0), // 8
    ...probe(EID.TIME), // 9–13
    beq(a1, 0, SHUTDOWN - 14 * 4), // 14
    ...arm(), // 15–22
    WFI, // 23
    jal(0, -4), // 24
    // handler (25)
    ...putchar(tick.charCodeAt(0)), // 25–27
    addi(s0, s0, -1), // 28
    beq(s0, 0, SHUTDOWN - 29 * 4), // 29
    ...arm(), // 30–37
    SRET, // 38
    ...shutdown(), // 39–41
  ]
  return words(w)
}

/**
 * Turns on its own Sv39 (satp = vsatp under V = 1) with the root at `vsRoot` (the VMM seeds an
 * identity map there), stores 0x5A at VA 0x8020_0000 (the second megapage) and loads it back —
 * a mismatch branches straight to shutdown — then prints `msg` with legacy putchar. 496 bytes.
 */
export function pagingGuest(msg: string, vsRoot: number): Uint8Array {
  const body = bytesOf(msg).flatMap(putchar)
  const SHUTDOWN = (13 + body.length) * 4
  const w = [
    li(t1, 1), // 0
    slli(t1, t1, 63), // 1: satp.MODE = 8 (Sv39) is bit 63
    ...loadImm32(t0, Math.floor(vsRoot / 4096)), // 2–3: root PPN
    or(t0, t0, t1), // 4
    csrw(CSR.satp, t0), // 5
    SFENCE_VMA, // 6
    li(t2, 0x401), // 7
    slli(t2, t2, 21), // 8: t2 = 0x8020_0000
    li(t1, 0x5a), // 9
    sb(t1, t2, 0), // 10
    lbu(t3, t2, 0), // 11
    bne(t1, t3, SHUTDOWN - 12 * 4), // 12
    ...body,
    ...shutdown(),
  ]
  return words(w)
}

/** Probes Base for DBCN, stores "dbcn" at GPA 0x8000_0400 and writes it with DBCN console_write(4, lo, 0); shuts down. 88 bytes. */
export function dbcnGuest(): Uint8Array {
  const SHUTDOWN = 19 * 4
  const w = [
    ...probe(EID.DBCN), // 0–4
    beq(a1, 0, SHUTDOWN - 5 * 4), // 5
    ...loadAddr(t0, VIRTIO_BUF_OFF), // 6–8: 0x8000_0400
    ...loadImm32(t1, 0x6e63_6264), // 9–10: "dbcn" little-endian
    sd(t1, t0, 0), // 11
    ...loadImm32(a7, EID.DBCN), // 12–13
    li(a6, DBCN_FID.CONSOLE_WRITE), // 14
    li(a0, 4), // 15
    addi(a1, t0, 0), // 16
    li(a2, 0), // 17
    ECALL, // 18
    ...shutdown(), // 19–21
  ]
  return words(w)
}

/** Reads the Magic register and writes that byte, then 'm', 'i', 'o', to Out (no SBI console); shuts down. 52 bytes. */
export function mmioGuest(): Uint8Array {
  const w = [...loadImm32(t0, DEMO_MMIO_BASE), lbu(t1, t0, DEMO_REG.MAGIC), sb(t1, t0, DEMO_REG.OUT)]
  for (const c of 'mio') w.push(li(t1, c.charCodeAt(0)), sb(t1, t0, DEMO_REG.OUT))
  return words([...w, ...shutdown()])
}

/**
 * s1 = the device; vstvec = handler; sie.SEIE and sstatus.SIE on; stores 1 to Arm; `wfi` loop.
 * The handler acks by loading IRQ, prints `mark`, counts down from `n`, and `sret`s or shuts down. 100 bytes.
 */
export function irqGuest(mark: string, n: number): Uint8Array {
  const HANDLER = 15 * 4
  const SHUTDOWN = 22 * 4
  const w = [
    li(s0, n), // 0
    ...loadImm32(s1, DEMO_MMIO_BASE), // 1–2
    ...loadAddr(t0, HANDLER), // 3–5
    csrw(CSR.stvec, t0), // 6
    li(t0, SIE_SEIE), // 7
    csrs(CSR.sie, t0), // 8
    li(t0, SSTATUS_SIE), // 9
    csrs(CSR.sstatus, t0), // 10
    li(t0, 1), // 11
    sb(t0, s1, DEMO_REG.ARM), // 12: the doorbell
    WFI, // 13
    jal(0, -4), // 14
    lbu(t0, s1, DEMO_REG.IRQ), // 15: handler, ack
    ...putchar(mark.charCodeAt(0)), // 16–18
    addi(s0, s0, -1), // 19
    beq(s0, 0, SHUTDOWN - 20 * 4), // 20
    SRET, // 21
    ...shutdown(), // 22–24
  ]
  return words(w)
}

/**
 * A split-virtqueue round trip with the demo device: "vq!" at +0x400, descriptor 0 = {0x8000_0400,
 * 3}, avail = {flags 0, idx 1, ring[0] 0} as one 64-bit store, used ring cleared; SEIE/SIE on;
 * Notify; `wfi`. The handler acks the interrupt and shuts down. 120 bytes.
 */
export function virtioGuest(): Uint8Array {
  const HANDLER = 26 * 4
  const w = [
    ...loadImm32(s1, DEMO_MMIO_BASE), // 0–1
    ...loadAddr(t0, 0), // 2–4: guest RAM base
    ...loadImm32(t1, 0x21_7176), // 5–6: "vq!"
    sd(t1, t0, VIRTIO_BUF_OFF), // 7
    addi(t1, t0, VIRTIO_BUF_OFF), // 8
    sd(t1, t0, VIRTQ_DESC_OFF), // 9: desc[0].addr
    li(t1, 3), // 10
    sd(t1, t0, VIRTQ_DESC_OFF + 8), // 11: desc[0].len = 3, flags 0, next 0
    ...loadImm32(t1, 0x1_0000), // 12–13
    sd(t1, t0, VIRTQ_AVAIL_OFF), // 14: avail flags 0, idx 1, ring[0] 0
    sd(0, t0, VIRTQ_USED_OFF), // 15: used flags 0, idx 0
    addi(t1, t0, HANDLER), // 16
    csrw(CSR.stvec, t1), // 17
    li(t1, SIE_SEIE), // 18
    csrs(CSR.sie, t1), // 19
    li(t1, SSTATUS_SIE), // 20
    csrs(CSR.sstatus, t1), // 21
    li(t1, 1), // 22
    sb(t1, s1, DEMO_REG.NOTIFY), // 23
    WFI, // 24
    jal(0, -4), // 25
    lbu(t0, s1, DEMO_REG.IRQ), // 26: handler, ack
    ...shutdown(), // 27–29
  ]
  return words(w)
}

/** The message of the default demo, as the Go honk passes it. */
export const DEMO_MESSAGE = 'honk: hello from a guest VM\n'
/** The paging demo's message. */
export const PAGING_MESSAGE = 'honk: guest enabled VS-stage paging\n'
