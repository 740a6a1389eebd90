/*
 * kvmlinux: a tiny VMM that boots a Linux guest through Linux's own KVM (/dev/kvm) and times it.
 * Issue #17, benchmarks: "Linux boot to init as a VS-mode guest ... vs QEMU running the same
 * guest with h=true (nested translation cost)". The same program runs on honk-virt and on QEMU
 * (-cpu rv64,h=true), so both nested boots are measured the same way.
 *
 * Two roles, one binary (built by scripts/guest/build-initramfs.sh like kvmcheck.c, against
 * Linux's own nolibc):
 *
 *  - Host role (the host kernel's PID 1, rdinit=/kvmlinux, in initramfs-kvmlinux.cpio): mounts
 *    devtmpfs, maps 128 MiB of guest RAM, loads /guest/Image (the repo's main guest Linux, from
 *    build-linux.sh) at RAM base + the Image header's text_offset and /guest/initramfs.cpio near
 *    the top, then KVM_CREATE_VM (the guest's time counter starts at 0 here: KVM sets htimedelta
 *    to minus the host's time at VM creation), the RAM as memory slot 0 at 0x80000000,
 *    KVM_CREATE_VCPU, and a flattened device tree written here: one cpu whose riscv,isa comes
 *    from the vCPU's KVM "isa" config register, its cpu-intc, the timebase from the vCPU's timer
 *    "frequency" register, the memory node, /chosen with bootargs "console=hvc0 earlycon=sbi"
 *    and the initrd range. Boot protocol (Documentation/riscv/boot.rst): a0 = hart id, a1 = the
 *    DTB's guest-physical address, pc = the Image's first byte, VS-mode, paging off.
 *    KVM 6.1 serves SBI BASE/TIME/IPI/RFENCE/HSM/SRST itself; the legacy console putchar and
 *    getchar come out as KVM_EXIT_RISCV_SBI (we echo the character / answer -1, nothing typed),
 *    SRST and the legacy shutdown as KVM_EXIT_SYSTEM_EVENT. The guest's console goes to our
 *    stdout, each line prefixed "guest| ". CLOCK_MONOTONIC is read just before the first KVM_RUN
 *    and when the guest's marker line ("kvmlinux-guest: marker") ends and at the shutdown
 *    event; both spans are printed ("kvmlinux: marker after S s", "kvmlinux: SRST after S s"),
 *    then the host powers off.
 *
 *  - Guest role (argv[0] "/init": PID 1 of the guest's initramfs, the same binary): writes the
 *    marker line to /dev/kmsg, so the guest kernel prints it with its printk timestamp (the
 *    guest's own time counter: since machine reset when booted bare, since VM creation under
 *    KVM), then powers off (reboot(2) → SBI SRST).
 *
 * The KVM uapi is Linux 6.1's (include/uapi/linux/kvm.h, arch/riscv/include/uapi/asm/kvm.h:
 * Debian's linux-libc-dev-riscv64-cross).
 */
#include "nolibc.h"
#include <linux/kvm.h>
#include <linux/time.h>

#define KVM_TOOL "kvmlinux"
#include "kvm-common.h"

#define RAM_BASE 0x80000000UL
#define RAM_SIZE (128UL << 20)
#define INITRD_OFF (96UL << 20) /* the initrd at RAM + 96 MiB, the DTB at RAM + 127 MiB */
#define DTB_OFF (127UL << 20)
#define DTB_MAX (64UL << 10)
#define BOOTARGS "console=hvc0 earlycon=sbi"
#define MARKER "kvmlinux-guest: marker"

/* Nanoseconds as seconds with 6 decimals: "12.345678". */
static const char *secs(unsigned long ns)
{
	static char buf[32];
	const char *w = dec(ns / 1000000000UL);
	unsigned long us = (ns % 1000000000UL) / 1000;
	int n = strlen(w), i;
	memcpy(buf, w, n);
	buf[n] = '.';
	for (i = 5; i >= 0; i--, us /= 10) buf[n + 1 + i] = '0' + us % 10;
	buf[n + 7] = 0;
	return buf;
}

static unsigned long now_ns(void)
{
	struct timespec ts;
	my_syscall2(__NR_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

/* Reads the whole file at `path` into dst (at most max bytes); returns its length or -1. */
static long load(const char *path, unsigned char *dst, unsigned long max)
{
	int fd = open(path, O_RDONLY, 0);
	long n, total = 0;
	if (fd < 0) return -1;
	while ((n = read(fd, dst + total, max - total)) > 0) total += n;
	close(fd);
	if (n < 0 || (unsigned long)total >= max) return -1; /* an error, or it did not fit */
	return total;
}

/* ---- A flattened device tree (Devicetree Specification v0.4, chapter 5), big-endian. ---- */

#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_END 9

static unsigned char fdt_struct[8192];
static unsigned long fdt_struct_len;
static char fdt_strings[1024];
static unsigned long fdt_strings_len;

static void be32(unsigned char *p, unsigned int v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void fdt_u32(unsigned int v)
{
	be32(fdt_struct + fdt_struct_len, v);
	fdt_struct_len += 4;
}

/* Bytes, zero-padded to the next 4-byte boundary (the structure block's tokens are aligned). */
static void fdt_bytes(const void *p, unsigned long n)
{
	memcpy(fdt_struct + fdt_struct_len, p, n);
	fdt_struct_len += n;
	while (fdt_struct_len & 3) fdt_struct[fdt_struct_len++] = 0;
}

/* A property name's offset in the strings block (names are shared). */
static unsigned int fdt_name(const char *name)
{
	unsigned long i = 0;
	while (i < fdt_strings_len) {
		if (!strcmp(fdt_strings + i, name)) return i;
		i += strlen(fdt_strings + i) + 1;
	}
	memcpy(fdt_strings + fdt_strings_len, name, strlen(name) + 1);
	fdt_strings_len += strlen(name) + 1;
	return i;
}

static void fdt_begin(const char *name)
{
	fdt_u32(FDT_BEGIN_NODE);
	fdt_bytes(name, strlen(name) + 1);
}

static void fdt_end(void) { fdt_u32(FDT_END_NODE); }

static void fdt_prop(const char *name, const void *value, unsigned long len)
{
	fdt_u32(FDT_PROP);
	fdt_u32(len);
	fdt_u32(fdt_name(name));
	fdt_bytes(value, len);
}

static void fdt_prop_str(const char *name, const char *s) { fdt_prop(name, s, strlen(s) + 1); }

static void fdt_prop_u32(const char *name, unsigned int v)
{
	unsigned char b[4];
	be32(b, v);
	fdt_prop(name, b, 4);
}

/* Two cells: a 64-bit value (the root's #address-cells and #size-cells are 2). */
static void fdt_prop_u64(const char *name, unsigned long v)
{
	unsigned char b[8];
	be32(b, v >> 32);
	be32(b + 4, v);
	fdt_prop(name, b, 8);
}

/* Writes the whole blob to dst; returns its size (0: it does not fit in max). */
static unsigned long fdt_finish(unsigned char *dst, unsigned long max)
{
	const unsigned long header = 40, rsvmap = 16; /* the reservation map: only its terminator */
	unsigned long off_struct = header + rsvmap, off_strings, total;
	fdt_u32(FDT_END);
	off_strings = off_struct + fdt_struct_len;
	total = off_strings + fdt_strings_len;
	if (total > max) return 0;
	memset(dst, 0, total);
	be32(dst + 0, 0xd00dfeed);       /* magic */
	be32(dst + 4, total);            /* totalsize */
	be32(dst + 8, off_struct);       /* off_dt_struct */
	be32(dst + 12, off_strings);     /* off_dt_strings */
	be32(dst + 16, header);          /* off_mem_rsvmap */
	be32(dst + 20, 17);              /* version */
	be32(dst + 24, 16);              /* last_comp_version */
	be32(dst + 28, 0);               /* boot_cpuid_phys */
	be32(dst + 32, fdt_strings_len); /* size_dt_strings */
	be32(dst + 36, fdt_struct_len);  /* size_dt_struct */
	memcpy(dst + off_struct, fdt_struct, fdt_struct_len);
	memcpy(dst + off_strings, fdt_strings, fdt_strings_len);
	return total;
}

/* riscv,isa from KVM's "isa" config register: bit n is the single-letter extension 'a' + n. */
static void isa_string(unsigned long isa, char *buf)
{
	const char *order = "imafdqcbkjtpvnh"; /* the ISA manual's canonical order of the letters */
	int n = 0;
	memcpy(buf, "rv64", 4);
	n = 4;
	for (; *order; order++)
		if (isa & (1UL << (*order - 'a'))) buf[n++] = *order;
	buf[n] = 0;
}

static void build_fdt(unsigned char *dtb, unsigned long *dtb_len, const char *isa, unsigned int timebase, unsigned long initrd_start, unsigned long initrd_end)
{
	unsigned char reg[16];
	fdt_begin("");
	fdt_prop_u32("#address-cells", 2);
	fdt_prop_u32("#size-cells", 2);
	fdt_prop_str("compatible", "linux,dummy-virt");
	fdt_prop_str("model", "kvmlinux");
	fdt_begin("chosen");
	fdt_prop_str("bootargs", BOOTARGS);
	fdt_prop_u64("linux,initrd-start", initrd_start);
	fdt_prop_u64("linux,initrd-end", initrd_end);
	fdt_end();
	fdt_begin("cpus");
	fdt_prop_u32("#address-cells", 1);
	fdt_prop_u32("#size-cells", 0);
	fdt_prop_u32("timebase-frequency", timebase);
	fdt_begin("cpu@0");
	fdt_prop_str("device_type", "cpu");
	fdt_prop_u32("reg", 0);
	fdt_prop_str("status", "okay");
	fdt_prop_str("compatible", "riscv");
	fdt_prop_str("riscv,isa", isa);
	fdt_prop_str("mmu-type", "riscv,sv39");
	/* The hart-local interrupt controller: Linux's timer and IPIs hang off it. */
	fdt_begin("interrupt-controller");
	fdt_prop_u32("#interrupt-cells", 1);
	fdt_prop("interrupt-controller", 0, 0);
	fdt_prop_str("compatible", "riscv,cpu-intc");
	fdt_prop_u32("phandle", 1);
	fdt_end();
	fdt_end();
	fdt_end();
	fdt_begin("memory@80000000");
	fdt_prop_str("device_type", "memory");
	be32(reg, RAM_BASE >> 32);
	be32(reg + 4, RAM_BASE);
	be32(reg + 8, RAM_SIZE >> 32);
	be32(reg + 12, RAM_SIZE);
	fdt_prop("reg", reg, 16);
	fdt_end();
	fdt_end();
	*dtb_len = fdt_finish(dtb, DTB_MAX);
}

/* ---- KVM ---- */

static int set_reg(int vcpu, unsigned long id, unsigned long v)
{
	struct kvm_one_reg reg = { .id = id, .addr = (unsigned long)&v };
	return ioctl(vcpu, KVM_SET_ONE_REG, &reg);
}

static int get_reg(int vcpu, unsigned long id, unsigned long *v)
{
	struct kvm_one_reg reg = { .id = id, .addr = (unsigned long)v };
	return ioctl(vcpu, KVM_GET_ONE_REG, &reg);
}

/* Whether `needle` occurs in `s` (nolibc 6.1 has no strstr). */
static int contains(const char *s, const char *needle)
{
	unsigned long n = strlen(needle);
	for (; *s; s++)
		if (!memcmp(s, needle, n)) return 1;
	return 0;
}

static char line[512];
static int line_len;
static unsigned long t_run, t_marker, t_srst;

/* A guest console byte: lines go to our stdout as "guest| <line>". */
static void guest_putc(char c)
{
	if (c == '\r') return;
	if (c != '\n' && line_len < (int)sizeof(line) - 1) {
		line[line_len++] = c;
		return;
	}
	line[line_len] = 0;
	out("guest| ");
	out(line);
	out("\n");
	if (!t_marker && contains(line, MARKER)) t_marker = now_ns();
	line_len = 0;
}

static int run_guest(void)
{
	unsigned char *ram = mmap(0, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) return fail("mmap guest RAM");
	/* The Image header (Documentation/riscv/boot-image-header.rst): text_offset at byte 8,
	 * image_size at 16, magic2 "RSC\x05" at 56. */
	long image_len = load("/guest/Image", ram, INITRD_OFF);
	if (image_len < 64) return fail("load /guest/Image");
	unsigned long text_offset = *(unsigned long *)(ram + 8);
	unsigned long image_size = *(unsigned long *)(ram + 16);
	if (memcmp(ram + 56, "RSC\x05", 4)) return fail("Image header magic");
	if (text_offset + image_size > INITRD_OFF) return fail("Image size");
	if (text_offset) {
		/* Move it up to its text_offset (regions overlap: copy from the end). */
		long i;
		for (i = image_len - 1; i >= 0; i--) ram[text_offset + i] = ram[i];
		memset(ram, 0, text_offset);
	}
	long initrd_len = load("/guest/initramfs.cpio", ram + INITRD_OFF, DTB_OFF - INITRD_OFF);
	if (initrd_len <= 0) return fail("load /guest/initramfs.cpio");
	say("Image bytes ", dec(image_len));
	say("Image text_offset ", hex(text_offset));
	say("initrd bytes ", dec(initrd_len));

	int kvm = open("/dev/kvm", O_RDWR, 0);
	if (kvm < 0) return fail("open /dev/kvm");
	struct kvm_run *run;
	int vcpu = create_vcpu(kvm, RAM_BASE, ram, RAM_SIZE, &run);
	if (vcpu < 0) return -1;

	unsigned long isa = 0, freq = 0;
	if (get_reg(vcpu, REG64(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(isa)), &isa) < 0) return fail("KVM_GET_ONE_REG isa");
	/* The timer registers are __u64 whatever XLEN is: index = offset / 8. */
	if (get_reg(vcpu, REG64(KVM_REG_RISCV_TIMER, offsetof(struct kvm_riscv_timer, frequency) / 8), &freq) < 0) return fail("KVM_GET_ONE_REG timer frequency");
	char isa_str[32];
	isa_string(isa, isa_str);
	say("vcpu riscv,isa ", isa_str);
	say("vcpu timebase-frequency ", dec(freq));

	unsigned long dtb_len;
	build_fdt(ram + DTB_OFF, &dtb_len, isa_str, freq, RAM_BASE + INITRD_OFF, RAM_BASE + INITRD_OFF + initrd_len);
	if (!dtb_len) return fail("device tree too large");
	say("dtb bytes ", dec(dtb_len));

	if (set_reg(vcpu, CORE_REG(regs.pc), RAM_BASE + text_offset) < 0) return fail("KVM_SET_ONE_REG pc");
	if (set_reg(vcpu, CORE_REG(regs.a0), 0) < 0) return fail("KVM_SET_ONE_REG a0");
	if (set_reg(vcpu, CORE_REG(regs.a1), RAM_BASE + DTB_OFF) < 0) return fail("KVM_SET_ONE_REG a1");
	say("booting the guest at ", hex(RAM_BASE + text_offset));

	unsigned long sbi_exits = 0, other_exits = 0;
	t_run = now_ns();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR) continue;
			return fail("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_RISCV_SBI) {
			sbi_exits++;
			run->riscv_sbi.ret[1] = 0;
			if (run->riscv_sbi.extension_id == 1) { /* legacy console putchar */
				guest_putc((char)run->riscv_sbi.args[0]);
				run->riscv_sbi.ret[0] = 0;
			} else if (run->riscv_sbi.extension_id == 2) { /* legacy console getchar: nothing typed */
				run->riscv_sbi.ret[0] = -1UL;
			} else {
				run->riscv_sbi.ret[0] = -2UL; /* SBI_ERR_NOT_SUPPORTED */
			}
		} else if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			t_srst = now_ns();
			if (line_len) guest_putc('\n');
			say(run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? "system event: shutdown" : "system event: type ",
			    run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? 0 : dec(run->system_event.type));
			break;
		} else if (run->exit_reason == KVM_EXIT_INTR) {
			other_exits++;
		} else {
			say("unexpected exit reason ", dec(run->exit_reason));
			return fail("KVM_RUN exit");
		}
	}
	say("SBI exits to user space: ", dec(sbi_exits));
	(void)other_exits;
	if (!t_marker) return fail("the guest's marker line never came");
	say("marker after ", secs(t_marker - t_run));
	say("SRST after ", secs(t_srst - t_run));
	return 0;
}

/* Guest role: the marker through /dev/kmsg (printed with the guest kernel's timestamp), then off. */
static int guest_init(void)
{
	mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
	int fd = open("/dev/kmsg", O_WRONLY, 0);
	if (fd < 0) {
		out("kvmlinux-guest: no /dev/kmsg\n");
	} else {
		write(fd, MARKER "\n", strlen(MARKER) + 1);
		close(fd);
	}
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 0 && !strcmp(argv[0], "/init")) return guest_init();
	return pid1(run_guest);
}
