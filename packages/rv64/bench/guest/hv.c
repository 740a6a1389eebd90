/* A tiny M-mode "hypervisor" for the nested-translation benchmark (bench/nested.ts): sets up a
 * G-stage (Sv39x4, identity) and a VS-stage (Sv39, identity), drops to VS-mode with mret
 * (mstatus.MPV = 1, MPP = S) and runs the CPU benchmark (bench.c, built with -DSMODE: it reads the
 * unprivileged `instret`) there; the guest's closing ecall traps to M-mode, which powers off
 * through the SiFive test finisher. The peers are built from the same sources:
 *   -DHV_M   the benchmark in M-mode (no translation);
 *   -DHV_S   in S-mode, bare (satp = 0), after the same mret;
 *   -DHV_VS  in VS-mode: G-stage gigapages unless -DG_4K (RAM by 4 KiB pages), VS-stage gigapages
 *            unless -DVS_4K. The devices (test finisher, UART) are gigapage-mapped in both stages.
 * Privileged spec 1.12: §3.1.6.1 (mstatus), §3.7 (PMP), §8.2.10 (hgatp), §8.5 (two-stage).
 */
typedef unsigned long u64;

#define UART ((volatile unsigned char *)0x10000000)
#define FINISHER ((volatile unsigned int *)0x100000)
__attribute__((section(".text.hv"))) static void hv_putc(char c) { while (!(UART[5] & 0x20)) {} UART[0] = c; }
__attribute__((section(".text.hv"))) static void hv_puts(const char *s) { while (*s) hv_putc(*s++); }
__attribute__((section(".text.hv"))) static void hv_puthex(u64 v) { for (int i = 60; i >= 0; i -= 4) hv_putc("0123456789abcdef"[(v >> i) & 15]); }

#define csrr(name) ({ u64 v_; __asm__ volatile("csrr %0, " #name : "=r"(v_)); v_; })
#define csrw(name, v) __asm__ volatile("csrw " #name ", %0" : : "r"((u64)(v)) : "memory")

extern char guest_entry[];

/* PTE bits (§4.3.1): V R W X U G A D. G-stage leaves must have U set (§8.5.1). */
#define PTE_V 1ul
#define PTE_RWX 0xeul
#define PTE_RW 0x6ul
#define PTE_U 0x10ul
#define PTE_AD 0xc0ul
#define PTE(pa, bits) ((((u64)(pa)) >> 12 << 10) | (bits))
#define RAM 0x80000000ul
/* RAM mapped by 4 KiB pages in the _4K variants: the image, its data, stacks and tables fit in 8 MiB. */
#define SMALL_MB 8

#ifdef HV_VS
static u64 g_root[2048] __attribute__((aligned(16384))); /* Sv39x4: a 16 KiB root (§8.5.1) */
static u64 vs_root[512] __attribute__((aligned(4096)));
#ifdef G_4K
static u64 g_l1[512] __attribute__((aligned(4096)));
static u64 g_l0[SMALL_MB / 2][512] __attribute__((aligned(4096)));
#endif
#ifdef VS_4K
static u64 vs_l1[512] __attribute__((aligned(4096)));
static u64 vs_l0[SMALL_MB / 2][512] __attribute__((aligned(4096)));
#endif

/* One level-1 table over the first SMALL_MB of RAM, pointing at level-0 tables of 4 KiB leaves. */
__attribute__((section(".text.hv"))) static void map_small(u64 *root_entry, u64 *l1, u64 (*l0)[512], u64 leaf_bits) {
  for (int i = 0; i < SMALL_MB / 2; i++) {
    for (int j = 0; j < 512; j++) l0[i][j] = PTE(RAM + ((u64)i << 21) + ((u64)j << 12), leaf_bits);
    l1[i] = PTE(l0[i], PTE_V);
  }
  *root_entry = PTE(l1, PTE_V);
}

__attribute__((section(".text.hv"))) static void two_stage(void) {
  /* G-stage: GPA 0-1 GiB (devices) and 2-3 GiB (RAM), identity, U set. */
  g_root[0] = PTE(0, PTE_V | PTE_RW | PTE_U | PTE_AD);
#ifdef G_4K
  map_small(&g_root[2], g_l1, g_l0, PTE_V | PTE_RWX | PTE_U | PTE_AD);
#else
  g_root[2] = PTE(RAM, PTE_V | PTE_RWX | PTE_U | PTE_AD);
#endif
  /* VS-stage: the same, for a supervisor (U clear). */
  vs_root[0] = PTE(0, PTE_V | PTE_RW | PTE_AD);
#ifdef VS_4K
  map_small(&vs_root[2], vs_l1, vs_l0, PTE_V | PTE_RWX | PTE_AD);
#else
  vs_root[2] = PTE(RAM, PTE_V | PTE_RWX | PTE_AD);
#endif
  csrw(hgatp, (8ul << 60) | ((u64)g_root >> 12)); /* Sv39x4, VMID 0 */
  csrw(vsatp, (8ul << 60) | ((u64)vs_root >> 12)); /* Sv39, ASID 0 */
  csrw(hcounteren, 7);
  __asm__ volatile(".word 0x62000073" ::: "memory"); /* hfence.gvma zero, zero */
}
#endif

__attribute__((section(".text.hv"))) void hv_main(void) {
#ifndef HV_M
  /* PMP: one NAPOT entry over everything, RWX: without an entry S/U/VS may touch nothing (§3.7.1). */
  csrw(pmpaddr0, ~0ul >> 10);
  csrw(pmpcfg0, 0x1f);
  csrw(mcounteren, 7); /* the payload reads instret */
  csrw(medeleg, 0);
  csrw(mideleg, 0);
  csrw(mie, 0);
  u64 s = csrr(mstatus);
  s &= ~(3ul << 11); /* MPP */
  s |= 1ul << 11;    /* MPP = S */
#ifdef HV_VS
  two_stage();
  s |= 1ul << 39;    /* MPV: mret enters VS (§8.6.4) */
#endif
  csrw(mstatus, s);
  csrw(mepc, guest_entry);
  __asm__ volatile("mret");
#endif
}

__attribute__((section(".text.hv"))) void hv_trap(void) {
  u64 cause = csrr(mcause);
  /* ecall from U 8, S 9, VS 10, M 11: the payload finished. */
#if defined(HV_VS)
  u64 want = 10;
#elif defined(HV_S)
  u64 want = 9;
#else
  u64 want = 11;
#endif
  if (cause == want) *FINISHER = 0x5555;
  hv_puts("hv: unexpected trap mcause ");
  hv_puthex(cause);
  hv_puts(" mepc ");
  hv_puthex(csrr(mepc));
  hv_puts(" mtval ");
  hv_puthex(csrr(mtval));
  hv_puts("\n");
  *FINISHER = 0x3333 | (1u << 16);
  for (;;) {}
}
