/*
 * A user program that reads the clock and touches what M-mode firmware sets up for the modes
 * below it (issue #12 case 13): it runs as /init (rdinit=/usercheck) under Linux on the virt
 * machine, under each firmware, and prints one line per check:
 *
 *   honk-user: <check>: <verdict>[ | <measurements>]
 *
 * The verdict is what must be the same under every firmware (and under QEMU + OpenSBI, the
 * reference); the measurements after " | " are times and counters, compared by shape only.
 * A check that traps reports the signal and the faulting instruction word instead of dying,
 * so one run shows every difference. Powers off at the end.
 *
 * Built by scripts/guest/build-usercheck.sh: riscv64-linux-gnu-gcc -static (glibc), rv64gc.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fenv.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static sigjmp_buf trap_env;
static volatile sig_atomic_t trap_sig;
static volatile uint32_t trap_insn;
static volatile uintptr_t trap_addr;
/* Set while a check expects its trap (a closed counter): the trap is its result, not a failure. */
static int trap_expected;

static void on_trap(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	uintptr_t pc = uc->uc_mcontext.__gregs[0]; /* REG_PC */
	uint16_t lo = *(volatile uint16_t *)pc;
	trap_insn = (lo & 3) == 3 ? lo | (uint32_t)*(volatile uint16_t *)(pc + 2) << 16 : lo;
	trap_addr = (uintptr_t)si->si_addr;
	trap_sig = sig;
	siglongjmp(trap_env, 1);
}

static const char *signame(int sig)
{
	return sig == SIGILL ? "SIGILL" : sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : sig == SIGFPE ? "SIGFPE" : "signal";
}

/* Runs `body`; when it raises a signal, prints the check's trap line and evaluates to 0. */
#define GUARDED(name, ...)                                                                      \
	do {                                                                                     \
		trap_sig = 0;                                                                    \
		if (sigsetjmp(trap_env, 1) == 0) {                                               \
			__VA_ARGS__;                                                             \
		} else {                                                                         \
			printf("honk-user: %s: %s insn=%08x\n", name, signame(trap_sig), trap_insn); \
			failures += !trap_expected;                                              \
		}                                                                                \
	} while (0)

static void fail(const char *name, const char *why)
{
	printf("honk-user: %s: FAIL %s\n", name, why);
	failures++;
}

static uint64_t ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static inline uint64_t rd_time(void) { uint64_t v; __asm__ volatile("rdtime %0" : "=r"(v)); return v; }
static inline uint64_t rd_cycle(void) { uint64_t v; __asm__ volatile("rdcycle %0" : "=r"(v)); return v; }
static inline uint64_t rd_instret(void) { uint64_t v; __asm__ volatile("rdinstret %0" : "=r"(v)); return v; }
static inline uint64_t rd_hpm3(void) { uint64_t v; __asm__ volatile("csrr %0, hpmcounter3" : "=r"(v)); return v; }

static void spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++) {}
}

/* ---- the vDSO, looked up by hand so the calls below are certainly the vDSO's ---- */

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);
typedef int (*clock_getres_fn)(clockid_t, struct timespec *);

static void *vdso_sym(const char *want)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	if (!base) return 0;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	intptr_t bias = 0;
	int have_load = 0;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && !have_load) bias = (intptr_t)base - (intptr_t)ph[i].p_vaddr, have_load = 1;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM) continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++)
			if (sym[k].st_shndx != SHN_UNDEF && !strcmp(str + sym[k].st_name, want)) return (void *)(bias + sym[k].st_value);
	}
	return 0;
}

static const char *clock_name(clockid_t c)
{
	switch (c) {
	case CLOCK_REALTIME: return "REALTIME";
	case CLOCK_MONOTONIC: return "MONOTONIC";
	case CLOCK_MONOTONIC_RAW: return "MONOTONIC_RAW";
	case CLOCK_BOOTTIME: return "BOOTTIME";
	case CLOCK_REALTIME_COARSE: return "REALTIME_COARSE";
	case CLOCK_MONOTONIC_COARSE: return "MONOTONIC_COARSE";
	default: return "?";
	}
}

/* The vDSO's reading lies between two system-call readings, and 100 readings never go back. */
static void check_vdso_clock(clock_gettime_fn fn, clockid_t c)
{
	char name[64];
	snprintf(name, sizeof name, "vdso clock_gettime(%s)", clock_name(c));
	GUARDED(name, {
		struct timespec a, v, b, prev, cur;
		syscall(SYS_clock_gettime, c, &a);
		int r = fn(c, &v);
		syscall(SYS_clock_gettime, c, &b);
		if (r != 0) { fail(name, "returned an error"); return; }
		if (ns(&v) < ns(&a) || ns(&v) > ns(&b)) { fail(name, "not between two system-call readings"); return; }
		prev = v;
		for (int i = 0; i < 100; i++) {
			fn(c, &cur);
			if (ns(&cur) < ns(&prev)) { fail(name, "went backwards"); return; }
			prev = cur;
		}
		printf("honk-user: %s: ok | t=%lld.%09ld\n", name, (long long)v.tv_sec, v.tv_nsec);
	});
}

static void check_clocks(void)
{
	if (!getauxval(AT_SYSINFO_EHDR)) { fail("vdso", "no AT_SYSINFO_EHDR"); return; }
	printf("honk-user: vdso: present\n");
	clock_gettime_fn cg = (clock_gettime_fn)vdso_sym("__vdso_clock_gettime");
	gettimeofday_fn gt = (gettimeofday_fn)vdso_sym("__vdso_gettimeofday");
	clock_getres_fn gr = (clock_getres_fn)vdso_sym("__vdso_clock_getres");
	printf("honk-user: vdso symbols: clock_gettime %s, gettimeofday %s, clock_getres %s\n", cg ? "found" : "missing", gt ? "found" : "missing", gr ? "found" : "missing");
	if (cg) {
		const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE};
		for (unsigned i = 0; i < sizeof clocks / sizeof *clocks; i++) check_vdso_clock(cg, clocks[i]);
	}
	if (gt)
		GUARDED("vdso gettimeofday", {
			struct timeval tv;
			if (gt(&tv, 0) != 0) fail("vdso gettimeofday", "returned an error");
			else printf("honk-user: vdso gettimeofday: ok | t=%lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
		});
	if (gr)
		GUARDED("vdso clock_getres(MONOTONIC)", {
			struct timespec r;
			if (gr(CLOCK_MONOTONIC, &r) != 0) fail("vdso clock_getres(MONOTONIC)", "returned an error");
			else printf("honk-user: vdso clock_getres(MONOTONIC): %lld.%09ld\n", (long long)r.tv_sec, r.tv_nsec);
		});
	/* The C library's own calls (glibc goes through the vDSO too): what `time <cmd>` uses. */
	GUARDED("libc clock_gettime(MONOTONIC)", {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		spin(200000);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (ns(&b) <= ns(&a)) fail("libc clock_gettime(MONOTONIC)", "did not advance over a busy loop");
		else printf("honk-user: libc clock_gettime(MONOTONIC): ok, advances | dt=%llu ns\n", (unsigned long long)(ns(&b) - ns(&a)));
	});
	GUARDED("libc time()", {
		time_t t = time(0);
		printf("honk-user: libc time(): ok | t=%lld\n", (long long)t);
	});
}

/* ---- counters ---- */

static void check_counters(void)
{
	GUARDED("rdtime", {
		struct timespec a, b;
		uint64_t t0 = rd_time();
		clock_gettime(CLOCK_MONOTONIC, &a);
		spin(500000);
		uint64_t t1 = rd_time();
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (t1 <= t0) { fail("rdtime", "did not advance over a busy loop"); break; }
		/* The device tree's timebase-frequency is 10 MHz on the virt machine (QEMU's too). */
		double hz = (double)(t1 - t0) * 1e9 / (double)(ns(&b) - ns(&a));
		printf("honk-user: rdtime: ok, advances, timebase %s | time=%llu hz=%.0f\n", hz > 9e6 && hz < 11e6 ? "10 MHz" : "NOT 10 MHz", (unsigned long long)t1, hz);
	});
	/* Long enough to cross the emulator's run slices (its counters advance per slice). */
	GUARDED("rdcycle", {
		uint64_t c0 = rd_cycle();
		spin(100000);
		uint64_t c1 = rd_cycle();
		printf("honk-user: rdcycle: ok, %s | cycle=%llu\n", c1 > c0 ? "advances" : "STUCK", (unsigned long long)c1);
	});
	GUARDED("rdinstret", {
		uint64_t i0 = rd_instret();
		spin(100000);
		uint64_t i1 = rd_instret();
		printf("honk-user: rdinstret: ok, %s | instret=%llu\n", i1 > i0 ? "advances" : "STUCK", (unsigned long long)i1);
	});
	/* scounteren is CY|TM|IR under OpenSBI: the other counters stay closed to user mode. */
	trap_expected = 1;
	GUARDED("hpmcounter3", {
		uint64_t v = rd_hpm3();
		printf("honk-user: hpmcounter3: readable | v=%llu\n", (unsigned long long)v);
	});
	trap_expected = 0;
}

/*
 * Every hart gets the firmware's hand-off (the boot hart at reset, the others when SBI HSM
 * starts them): the counters are readable on each CPU the program is moved to.
 */
static void check_each_cpu(void)
{
	clock_gettime_fn cg = (clock_gettime_fn)vdso_sym("__vdso_clock_gettime");
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	printf("honk-user: cpus online: %ld\n", n);
	for (long cpu = 0; cpu < n; cpu++) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		char name[64];
		snprintf(name, sizeof name, "cpu %ld", cpu);
		if (sched_setaffinity(0, sizeof set, &set) != 0) { fail(name, "sched_setaffinity"); continue; }
		GUARDED(name, {
			struct timespec t;
			uint64_t tm = rd_time(), cy = rd_cycle(), ir = rd_instret();
			int r = cg ? cg(CLOCK_MONOTONIC, &t) : -1;
			printf("honk-user: %s: on cpu %d, rdtime rdcycle rdinstret vdso %s | time=%llu cycle=%llu instret=%llu\n", name, sched_getcpu(), r == 0 ? "ok" : "FAILED", (unsigned long long)tm, (unsigned long long)cy, (unsigned long long)ir);
		});
	}
	cpu_set_t all;
	CPU_ZERO(&all);
	for (long cpu = 0; cpu < n; cpu++) CPU_SET(cpu, &all);
	sched_setaffinity(0, sizeof all, &all);
}

/* ---- misaligned loads and stores ---- */

/* Each access through one instruction (no compression, so the width is the instruction's). */
#define LOAD(insn, T, p) ({ T v_; __asm__ volatile(".option push\n.option norvc\n" insn " %0, 0(%1)\n.option pop" : "=r"(v_) : "r"(p) : "memory"); v_; })
#define STORE(insn, v, p) __asm__ volatile(".option push\n.option norvc\n" insn " %0, 0(%1)\n.option pop" : : "r"(v), "r"(p) : "memory")

static uint64_t expect_bytes(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
	return v;
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i + seed) * 167u + 13u);
}

/* Loads and stores of every width at every misaligned offset, inside a page and across two pages. */
static void check_misaligned(void)
{
	/*
	 * Two virtually adjacent pages that are not physically adjacent: 64 pages are touched in
	 * order, then the 41st is moved right behind the first, so an access across the boundary
	 * that is not translated page by page reads the wrong memory.
	 */
	unsigned char *m = mmap(0, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) { fail("misaligned", "mmap"); return; }
	for (int i = 0; i < 64; i++) m[i * 4096] = (unsigned char)i;
	if (mremap(m + 40 * 4096, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, m + 4096) != m + 4096) { fail("misaligned", "mremap"); return; }
	if (m[4096] != 40) { fail("misaligned", "the moved page does not hold its contents"); return; }
	int cases = 0;
	for (int cross = 0; cross < 2; cross++) {
		const char *where = cross ? "misaligned across pages" : "misaligned in a page";
		char name[64];
		snprintf(name, sizeof name, "%s: loads", where);
		GUARDED(name, {
			int bad = 0;
			for (int off = 1; off < 8 && !bad; off++) {
				unsigned char *p = cross ? m + 4096 - 8 + off : m + 64 + off;
				pattern(p - 8, 32, off);
				uint64_t e2 = expect_bytes(p, 2), e4 = expect_bytes(p, 4), e8 = expect_bytes(p, 8);
				if ((uint64_t)LOAD("lhu", uint64_t, p) != e2) bad = bad ? bad : 1;
				if ((int64_t)LOAD("lh", int64_t, p) != (int16_t)e2) bad = bad ? bad : 2;
				if ((uint64_t)LOAD("lwu", uint64_t, p) != e4) bad = bad ? bad : 3;
				if ((int64_t)LOAD("lw", int64_t, p) != (int32_t)e4) bad = bad ? bad : 4;
				if ((uint64_t)LOAD("ld", uint64_t, p) != e8) bad = bad ? bad : 5;
				float f;
				double d;
				__asm__ volatile(".option push\n.option norvc\nflw %0, 0(%1)\n.option pop" : "=f"(f) : "r"(p) : "memory");
				uint32_t fb;
				memcpy(&fb, &f, 4);
				if (fb != (uint32_t)e4) bad = bad ? bad : 6;
				__asm__ volatile(".option push\n.option norvc\nfld %0, 0(%1)\n.option pop" : "=f"(d) : "r"(p) : "memory");
				uint64_t db;
				memcpy(&db, &d, 8);
				if (db != e8) bad = bad ? bad : 7;
				/* Compressed forms: c.lw and c.ld take x8-x15 */
				register unsigned char *cp __asm__("a0") = p;
				register int64_t cv __asm__("a1");
				__asm__ volatile("c.lw %0, 0(%1)" : "=r"(cv) : "r"(cp) : "memory");
				if (cv != (int32_t)e4) bad = bad ? bad : 8;
				__asm__ volatile("c.ld %0, 0(%1)" : "=r"(cv) : "r"(cp) : "memory");
				if ((uint64_t)cv != e8) bad = bad ? bad : 9;
				cases += 9;
				if (bad) {
					char why[64];
					static const char *insn[] = {"", "lhu", "lh", "lwu", "lw", "ld", "flw", "fld", "c.lw", "c.ld"};
					snprintf(why, sizeof why, "%s at offset %d read a wrong value", insn[bad], off);
					fail(name, why);
				}
			}
			if (!bad) printf("honk-user: %s: ok (lh lhu lw lwu ld flw fld c.lw c.ld at offsets 1-7)\n", name);
		});
		snprintf(name, sizeof name, "%s: stores", where);
		GUARDED(name, {
			int bad = 0;
			static const char *insn[] = {"", "sh", "sw", "sd", "fsw", "fsd", "c.sw", "c.sd"};
			for (int off = 1; off < 8 && !bad; off++) {
				unsigned char *p = cross ? m + 4096 - 8 + off : m + 64 + off;
				unsigned char want[32];
				for (int w = 1; w <= 7 && !bad; w++) {
					uint64_t v = 0x1122334455667788ull ^ ((uint64_t)off << 56) ^ (uint64_t)w;
					int n = w == 1 ? 2 : w == 2 || w == 4 || w == 6 ? 4 : 8;
					pattern(p - 8, 32, off + w);
					memcpy(want, p - 8, 32);
					for (int i = 0; i < n; i++) want[8 + i] = (unsigned char)(v >> (8 * i));
					switch (w) {
					case 1: STORE("sh", v, p); break;
					case 2: STORE("sw", v, p); break;
					case 3: STORE("sd", v, p); break;
					case 4: {
						float f;
						uint32_t b = (uint32_t)v;
						memcpy(&f, &b, 4);
						__asm__ volatile(".option push\n.option norvc\nfsw %0, 0(%1)\n.option pop" : : "f"(f), "r"(p) : "memory");
						break;
					}
					case 5: {
						double d;
						memcpy(&d, &v, 8);
						__asm__ volatile(".option push\n.option norvc\nfsd %0, 0(%1)\n.option pop" : : "f"(d), "r"(p) : "memory");
						break;
					}
					case 6: {
						register unsigned char *cp __asm__("a0") = p;
						register uint64_t cv __asm__("a1") = v;
						__asm__ volatile("c.sw %0, 0(%1)" : : "r"(cv), "r"(cp) : "memory");
						break;
					}
					default: {
						register unsigned char *cp __asm__("a0") = p;
						register uint64_t cv __asm__("a1") = v;
						__asm__ volatile("c.sd %0, 0(%1)" : : "r"(cv), "r"(cp) : "memory");
					}
					}
					cases++;
					if (memcmp(want, p - 8, 32)) {
						char why[80];
						snprintf(why, sizeof why, "%s at offset %d wrote wrong bytes", insn[w], off);
						fail(name, why);
						bad = 1;
					}
				}
			}
			if (!bad) printf("honk-user: %s: ok (sh sw sd fsw fsd c.sw c.sd at offsets 1-7)\n", name);
		});
	}
	/* Atomics need natural alignment: Linux answers the address-misaligned trap with SIGBUS. */
	trap_expected = 1;
	GUARDED("misaligned amoadd.w", {
		int32_t old;
		__asm__ volatile("amoadd.w %0, %1, (%2)" : "=r"(old) : "r"(1), "r"(m + 66) : "memory");
		printf("honk-user: misaligned amoadd.w: succeeded | old=%d\n", old);
	});
	GUARDED("misaligned lr.d", {
		int64_t v;
		__asm__ volatile("lr.d %0, (%1)" : "=r"(v) : "r"(m + 68) : "memory");
		printf("honk-user: misaligned lr.d: succeeded | v=%lld\n", (long long)v);
	});
	trap_expected = 0;
	munmap(m, 64 * 4096);
	(void)cases;
}

/* ---- floating point ---- */

static void check_fp(void)
{
	GUARDED("fp", {
		volatile double two = 2.0, three = 3.0, tiny = 1e-310;
		volatile float ftwo = 2.0f;
		feclearexcept(FE_ALL_EXCEPT);
		double s = sqrt(two);
		double third = 1.0 / three;
		int inexact = fetestexcept(FE_INEXACT) != 0;
		double f = fma(third, three, -1.0);
		float fs = sqrtf(ftwo);
		double sub = tiny * 0.5;
		long long cvt = (long long)(s * 1e15);
		printf("honk-user: fp: sqrt(2)=%a 1/3=%a fma=%a sqrtf(2)=%a subnormal=%a cvt=%lld inexact=%d\n", s, third, f, (double)fs, sub, cvt, inexact);
	});
	/* The FP registers survive a context switch: a child does FP work while the parent waits. */
	GUARDED("fp across fork", {
		register double keep __asm__("fs0") = 1.0 / 7.0;
		__asm__ volatile("" : "+f"(keep));
		pid_t pid = fork();
		if (pid == 0) {
			volatile double x = 0;
			for (int i = 1; i < 20000; i++) x += 1.0 / i;
			_exit(x > 10 ? 0 : 1);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		__asm__ volatile("" : "+f"(keep));
		printf("honk-user: fp across fork: %s, child %s\n", keep == 1.0 / 7.0 ? "kept" : "LOST", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED");
	});
}

static int checks(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGILL, &sa, 0);
	sigaction(SIGBUS, &sa, 0);
	sigaction(SIGSEGV, &sa, 0);
	sigaction(SIGFPE, &sa, 0);
	printf("honk-user: start\n");
	check_clocks();
	check_counters();
	check_each_cpu();
	check_misaligned();
	check_fp();
	printf("honk-user: done, %d failure(s)\n", failures);
	fflush(stdout);
	return failures != 0;
}

int main(void)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (getpid() != 1) return checks();
	/*
	 * As /init, run the checks in a child: the kernel logs every trap signal of init as
	 * "unhandled" (even when init handles it), and that line would cut into ours on the console.
	 */
	pid_t pid = fork();
	if (pid == 0) _exit(checks());
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) printf("honk-user: FAIL the checks did not run to their end\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
