/* The CPU benchmark guest: a fixed integer workload (CRC-32, a sort, a small matrix multiply),
 * repeated ROUNDS times; prints a checksum and the instructions it retired (instret) over the
 * UART at 0x10000000. Built bare-metal by bench/run.ts; runs on QEMU and on our hart. With -DSMODE
 * (examples/virt-machine/bench/cpu-smode.ts) it is an S-mode payload at RAM + 2 MiB under an SBI.
 * With -DLINUX_USER (scripts/guest/build-cpu-user.sh, examples/virt-machine/bench/cpu-user.ts) it
 * is a static Linux program, /init of its own initramfs: U-mode with the MMU on (Sv39, 4 KiB
 * pages), output by write(2); it prints "start" before and "done" right after the work, so the
 * host can time the work from its console, then the report, and powers off. */
typedef unsigned long u64;
typedef unsigned int u32;
#ifndef ROUNDS
#define ROUNDS 400
#endif
#ifdef LINUX_USER
#include <sys/reboot.h>
#include <termios.h>
#include <unistd.h>
static char out[128]; /* the report, written at once */
static unsigned olen;
static void putc(char c) { if (olen < sizeof out) out[olen++] = c; }
#else
static volatile unsigned char *const UART = (unsigned char *)0x10000000;
static void putc(char c) { while (!(UART[5] & 0x20)) {} UART[0] = c; }
#endif
static void puts(const char *s) { while (*s) putc(*s++); }
static void puthex(u64 v) { for (int i = 60; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]); putc('\n'); }
#if defined SMODE || defined LINUX_USER /* the unprivileged counter: mcounteren.IR set by the SBI (Linux sets scounteren to CY|TM|IR) */
static u64 rdinstret(void) { u64 v; __asm__ volatile("csrr %0, instret" : "=r"(v)); return v; }
#else
static u64 rdinstret(void) { u64 v; __asm__ volatile("csrr %0, minstret" : "=r"(v)); return v; }
#endif

static u32 crc_table[256];
static void crc_init(void) {
  for (u32 n = 0; n < 256; n++) { u32 c = n; for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1; crc_table[n] = c; }
}
static u32 crc32(const unsigned char *p, u64 n, u32 crc) {
  crc = ~crc;
  while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
#define N 256
static u32 arr[N];
static void sort(u32 *a, int n) { /* insertion sort: branchy, memory-bound */
  for (int i = 1; i < n; i++) { u32 v = a[i]; int j = i - 1; while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; }
}
#define M 12
static u64 A[M][M], B[M][M], C[M][M];
static void matmul(void) {
  for (int i = 0; i < M; i++) for (int j = 0; j < M; j++) { u64 s = 0; for (int k = 0; k < M; k++) s += A[i][k] * B[k][j]; C[i][j] = s; }
}
static unsigned char buf[4096];

#ifdef PAGING /* S-mode with Sv39 on: the low 4 GiB identity-mapped by gigapages (V R W X A D) */
static u64 root[512] __attribute__((aligned(4096)));
static void paging_on(void) {
  for (u64 i = 0; i < 4; i++) root[i] = ((i << 30) >> 2) | 0xcf;
  u64 satp = (8ul << 60) | ((u64)root >> 12);
  __asm__ volatile("csrw satp, %0\n sfence.vma" : : "r"(satp) : "memory");
}
#endif

int main(void) {
#ifdef PAGING
  paging_on();
#endif
#ifdef LINUX_USER
  /* Seven bytes with the tty's CR: they fit the 16550's FIFO, so they leave before write returns. */
  if (write(1, "start\n", 6) != 6) return 1;
#endif
  u64 start = rdinstret();
  crc_init();
  u64 seed = 0x9e3779b97f4a7c15ul, sum = 0;
  for (int i = 0; i < 4096; i++) { seed = seed * 6364136223846793005ul + 1442695040888963407ul; buf[i] = seed >> 56; }
  for (int r = 0; r < ROUNDS; r++) {
    sum += crc32(buf, sizeof buf, (u32)r);
    for (int i = 0; i < N; i++) { seed = seed * 6364136223846793005ul + 1442695040888963407ul; arr[i] = (u32)(seed >> 33); }
    sort(arr, N);
    sum ^= arr[r % N];
    for (int i = 0; i < M; i++) for (int j = 0; j < M; j++) { A[i][j] = (u64)(i + r) * 2654435761u; B[i][j] = (u64)(j ^ r) + 7; }
    matmul();
    sum += C[r % M][(r * 7) % M];
  }
  u64 end = rdinstret();
#ifdef LINUX_USER
  if (write(1, "done\n", 5) != 5) return 1;
#endif
  puts("checksum "); puthex(sum);
  puts("instret "); puthex(end - start);
#ifdef LINUX_USER
  if (write(1, out, olen) != (long)olen) return 1;
  tcdrain(1); /* the report out of the UART before the power goes */
  reboot(RB_POWER_OFF);
#endif
  return 0;
}
