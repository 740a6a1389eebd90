/*
 * kvm-common.h: the helpers kvmcheck.c and kvmlinux.c share (both nolibc PID 1 programs built by
 * build-initramfs.sh): console lines "<KVM_TOOL>: <what>", hex/decimal formatting without printf,
 * the failure count, the KVM_{GET,SET}_ONE_REG id of a core register, creating the VM and its
 * one vCPU, and PID 1's frame around the run.
 *
 * The includer defines KVM_TOOL (the line prefix, e.g. "kvmcheck") first, and has included
 * nolibc.h and <linux/kvm.h>.
 */
#ifndef KVM_COMMON_H
#define KVM_COMMON_H

#ifndef KVM_TOOL
#error "define KVM_TOOL (the console line prefix) before including kvm-common.h"
#endif

#ifndef offsetof
#define offsetof(t, m) __builtin_offsetof(t, m)
#endif

static int failures;

static void out(const char *s) { write(1, s, strlen(s)); }

static void say(const char *a, const char *b)
{
	out(KVM_TOOL ": ");
	out(a);
	if (b) out(b);
	out("\n");
}

static const char *hex(unsigned long v)
{
	static char buf[19];
	int i;
	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; i < 16; i++) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	buf[18] = 0;
	return buf;
}

static const char *dec(unsigned long v)
{
	static char buf[24];
	int i = 23;
	buf[i] = 0;
	do buf[--i] = '0' + v % 10; while ((v /= 10) && i > 0);
	return buf + i;
}

static int fail(const char *what)
{
	failures++;
	say(what, ": FAIL");
	return -1;
}

/* A 64-bit KVM_{GET,SET}_ONE_REG id; a core register's: regs.<name> of struct kvm_riscv_core. */
#define REG64(type, idx) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | (type) | (idx))
#define CORE_REG(name) REG64(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(name))

/*
 * A VM with `ram` as memory slot 0 at guest-physical `gpa`, and its one vCPU with the shared
 * kvm_run mapped at *run: the vCPU's fd, or -1 after reporting the step that failed.
 */
static int create_vcpu(int kvm, unsigned long gpa, void *ram, unsigned long size, struct kvm_run **run)
{
	/* The guest's time counter starts here (htimedelta = -time at VM creation). */
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) return fail("KVM_CREATE_VM");
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (unsigned long)ram,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) return fail("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) return fail("KVM_CREATE_VCPU");
	int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0) return fail("KVM_GET_VCPU_MMAP_SIZE");
	*run = mmap(0, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (*run == MAP_FAILED) return fail("mmap vcpu");
	return vcpu;
}

/* PID 1's frame: greets, mounts devtmpfs (for /dev/kvm), runs `body`, says "ok" or "FAILED", powers off. */
static int pid1(int (*body)(void))
{
	say("hello", 0);
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, 0) < 0) fail("mount /dev");
	body();
	say(failures ? "FAILED" : "ok", 0);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	return 0;
}

#endif
