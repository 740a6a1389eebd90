/*
 * kvmcheck: runs a tiny guest through Linux's own KVM (/dev/kvm) and reports what it saw, one
 * line each, "kvmcheck: <what>", then powers the machine off. Issue #17, bare mode: the same
 * program on honk-virt and on QEMU (-cpu rv64,h=true) must print the same.
 *
 * It is the guest's PID 1 (rdinit=/kvmcheck, in initramfs-kvm.cpio from build-initramfs.sh):
 * mounts devtmpfs, opens /dev/kvm, KVM_CREATE_VM, 64 KiB of guest RAM at 0x80000000 holding the
 * guest code below, KVM_CREATE_VCPU, the PC through KVM_SET_ONE_REG, then KVM_RUN until the guest
 * shuts down. The guest (VS-mode, bare, no paging):
 *   - asks SBI BASE for the implementation ID (served inside KVM: 3, "KVM"),
 *   - prints a message and that ID through the legacy console putchar (KVM forwards it to us as
 *     KVM_EXIT_RISCV_SBI: we print the character and ack with ret[0] = 0),
 *   - shuts down with SBI SRST (KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_SHUTDOWN).
 * The uapi is Linux 6.1's (linux/kvm.h, asm/kvm.h: Debian's linux-libc-dev-riscv64-cross).
 *
 * Built by scripts/guest/build-initramfs.sh like init.c: riscv64-linux-gnu-gcc -nostdlib -static
 * against Linux's own nolibc.
 */
#include "nolibc.h"
#include <linux/kvm.h>

#define KVM_TOOL "kvmcheck"
#include "kvm-common.h"

#define GUEST_BASE 0x80000000UL

/* The guest's code, position-independent (copied to GUEST_BASE). No compressed instructions:
 * the guest's ISA is whatever KVM offers, and this stays valid without C. */
__asm__(
	".pushsection .rodata\n"
	".balign 4\n"
	"guest_code:\n"
	".option push\n"
	".option norvc\n"
	"	li a7, 0x10\n"            /* SBI BASE */
	"	li a6, 1\n"               /* sbi_get_impl_id */
	"	ecall\n"
	"	mv s1, a1\n"
	"	lla s0, 9f\n"
	"1:	lbu a0, 0(s0)\n"
	"	beqz a0, 2f\n"
	"	li a7, 1\n"               /* legacy console putchar */
	"	ecall\n"
	"	addi s0, s0, 1\n"
	"	j 1b\n"
	"2:	addi a0, s1, '0'\n"
	"	li a7, 1\n"
	"	ecall\n"
	"	li a0, '\\n'\n"
	"	li a7, 1\n"
	"	ecall\n"
	"	li a7, 0x53525354\n"      /* SRST */
	"	li a6, 0\n"               /* sbi_system_reset */
	"	li a0, 0\n"               /* shutdown */
	"	li a1, 0\n"               /* no reason */
	"	ecall\n"
	"3:	j 3b\n"
	"9:	.asciz \"hello from a KVM guest, SBI implementation \"\n"
	".option pop\n"
	"guest_code_end:\n"
	".popsection\n");
extern const unsigned char guest_code[], guest_code_end[];

static unsigned char guest_ram[64 << 10] __attribute__((aligned(4096)));

static int run_guest(void)
{
	int kvm = open("/dev/kvm", O_RDWR, 0);
	if (kvm < 0) return fail("open /dev/kvm");
	say("api version ", dec(ioctl(kvm, KVM_GET_API_VERSION, 0)));
	memcpy(guest_ram, guest_code, guest_code_end - guest_code);
	struct kvm_run *run;
	int vcpu = create_vcpu(kvm, GUEST_BASE, guest_ram, sizeof(guest_ram), &run);
	if (vcpu < 0) return -1;
	unsigned long pc = GUEST_BASE;
	struct kvm_one_reg reg = { .id = CORE_REG(regs.pc), .addr = (unsigned long)&pc };
	if (ioctl(vcpu, KVM_SET_ONE_REG, &reg) < 0) return fail("KVM_SET_ONE_REG pc");
	say("vcpu created, pc ", hex(pc));

	char line[128];
	int len = 0;
	unsigned long sbi_exits = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_RISCV_SBI) {
			/* Only the legacy console is forwarded by this guest; anything else is a failure. */
			if (run->riscv_sbi.extension_id != 1) {
				say("unexpected SBI call, extension ", hex(run->riscv_sbi.extension_id));
				return fail("SBI exit");
			}
			char c = (char)run->riscv_sbi.args[0];
			sbi_exits++;
			if (c == '\n' || len == sizeof(line) - 1) {
				line[len] = 0;
				say("guest says: ", line);
				len = 0;
			} else line[len++] = c;
			run->riscv_sbi.ret[0] = 0;
			run->riscv_sbi.ret[1] = 0;
		} else if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			say(run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? "system event: shutdown" : "system event: other type ",
			    run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? 0 : dec(run->system_event.type));
			if (run->system_event.type != KVM_SYSTEM_EVENT_SHUTDOWN) return fail("system event");
			break;
		} else if (run->exit_reason == KVM_EXIT_INTR) {
			continue; /* a host signal: run again */
		} else {
			say("unexpected exit reason ", dec(run->exit_reason));
			return fail("KVM_RUN exit");
		}
	}
	say("SBI console exits: ", dec(sbi_exits));
	/* The guest's s0 after the loop points at the message's terminating NUL. */
	unsigned long s0 = 0;
	reg.id = CORE_REG(regs.s0);
	reg.addr = (unsigned long)&s0;
	if (ioctl(vcpu, KVM_GET_ONE_REG, &reg) < 0) return fail("KVM_GET_ONE_REG s0");
	say("guest s0 ", hex(s0));
	return 0;
}

int main(void)
{
	return pid1(run_guest);
}
