/**
 * Issue #17, bare mode, against software nobody here wrote: Linux's own KVM on our H extension.
 * The kvm variant of the repo's Linux 6.1 (scripts/guest/build-linux.sh --variant kvm: CONFIG_KVM)
 * boots on honk-virt and on qemu-system-riscv64 from the same command line, `-cpu rv64,h=true`.
 * KVM initialises (probes the H extension, the G-stage mode and the VMID bits by writing hgatp),
 * and /kvmcheck (scripts/guest/kvmcheck.c, PID 1) runs a tiny VS-mode guest through /dev/kvm: it
 * asks SBI for the implementation ID (answered inside KVM), prints a message through the legacy
 * SBI console (forwarded to kvmcheck), and shuts down through SBI SRST. The kernel's `kvm [1]:`
 * lines and every kvmcheck line must be the same on both machines; only the printk timestamps
 * differ, by nature, and are dropped, and the G-stage format KVM picks follows the machine's
 * paging (honk-virt's default widest mode is Sv48, QEMU 7.2's Sv57): honk-virt under OpenSBI
 * fw_jump with --mmu sv57 prints exactly QEMU's lines.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GUEST_CACHE, OPENSBI_FW_JUMP } from './guest.js'

/** The kvm guest's kernel (build-linux.sh --variant kvm: the display variant, which has KVM) and initramfs. */
const KVM_IMAGE = join(GUEST_CACHE, 'linux-6.1-display', 'arch', 'riscv', 'boot', 'Image')
const KVM_INITRAMFS = join(GUEST_CACHE, 'initramfs-kvm.cpio')
const qemu = existsSync('/usr/bin/qemu-system-riscv64')
// In CI the kvm guest is built by .ci/run before the system tests: missing there is a failure.
const run = (existsSync(KVM_IMAGE) && existsSync(KVM_INITRAMFS) && qemu) || process.env['CI'] === 'true'

/** Runs honk-virt or QEMU with `args` until it exits (kvmcheck powers off) or `ms` pass. */
function machine(program: 'honk' | 'qemu', args: string[], ms = 600_000): Promise<string> {
  const child =
    program === 'honk'
      ? spawn(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/honk-virt.ts', ...args], { cwd: join(import.meta.dirname, '..') })
      : spawn('qemu-system-riscv64', args)
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')))
  child.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')))
  return new Promise<string>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve(out)
    })
  })
}

/**
 * The lines to compare, without printk timestamps: OpenSBI's ISA banner (when it runs), Linux's
 * ISA line (the device tree's riscv,isa with its h), KVM's own (`kvm [1]: …`, `kvm: …`) and kvmcheck's.
 */
const kvmLines = (log: string) =>
  log
    .split(/\r?\n/)
    .map((l) => l.replace(/^\[\s*\d+\.\d+\] /, ''))
    .filter((l) => /^(kvm[ :]|kvmcheck: |riscv: base ISA extensions |Boot HART (Base ISA|ISA Extensions))/.test(l))
/** The G-stage format is the widest hgatp mode the hart keeps: it follows the machine's paging. */
const anyGstage = (lines: string[]) => lines.map((l) => l.replace(/Sv(39|48|57)x4 G-stage/, 'Sv__x4 G-stage'))

describe.skipIf(!run)("Linux's KVM on the H extension: honk-virt and QEMU (-cpu rv64,h=true) alike", () => {
  it('the kvm guest was built (scripts/guest/build-linux.sh --variant kvm, build-initramfs.sh)', () => {
    expect(existsSync(KVM_IMAGE), KVM_IMAGE).toBe(true)
    expect(existsSync(KVM_INITRAMFS), KVM_INITRAMFS).toBe(true)
    expect(qemu, 'qemu-system-riscv64: run scripts/install-system-deps.sh').toBe(true)
  })

  it('KVM loads and kvmcheck runs a guest through /dev/kvm, printing the same lines on both (TS SBI; OpenSBI fw_jump with Sv57)', async () => {
    const machineArgs = ['-M', 'virt', '-cpu', 'rv64,h=true', '-m', '256M', '-smp', '1', '-nographic']
    const kernel = ['-kernel', KVM_IMAGE, '-initrd', KVM_INITRAMFS, '-append', 'console=ttyS0 rdinit=/kvmcheck']
    const [ours, oursOpenSbi, theirs] = await Promise.all([
      // The same command line on both.
      machine('honk', [...machineArgs, '-bios', 'default', ...kernel]),
      // Real OpenSBI on our harts, and Sv57 as QEMU 7.2's rv64 has it: then every line is QEMU's.
      machine('honk', [...machineArgs, '-bios', OPENSBI_FW_JUMP, '--mmu', 'sv57', ...kernel]),
      machine('qemu', [...machineArgs, '-bios', 'default', ...kernel]),
    ])
    const lines = kvmLines(ours)
    expect(lines, ours.slice(-3000)).toContain('kvmcheck: ok')
    expect(lines).toContain('riscv: base ISA extensions acdfhim')
    expect(lines).toContain('kvm [1]: hypervisor extension available')
    expect(lines).toContain('kvm [1]: VMID 14 bits available')
    expect(lines).toContain('kvmcheck: guest says: hello from a KVM guest, SBI implementation 3')
    expect(lines).toContain('kvmcheck: system event: shutdown')
    expect(lines).toContain('kvmcheck: SBI console exits: 45')
    // honk-virt's widest paging is Sv48 by default (--mmu sv48), QEMU 7.2's rv64 has Sv57:
    // KVM probes hgatp from Sv57x4 down and keeps the first mode the hart accepts.
    expect(lines).toContain('kvm [1]: using Sv48x4 G-stage page table format')
    // (The TS SBI prints no banner: OpenSBI's lines are compared in the run under OpenSBI.)
    const linuxLines = (l: string[]) => anyGstage(l.filter((x) => !x.startsWith('Boot HART')))
    expect(linuxLines(lines), theirs.slice(-3000)).toEqual(linuxLines(kvmLines(theirs)))
    // Under OpenSBI with Sv57: exactly QEMU's lines, OpenSBI's "Boot HART Base ISA: rv64imafdch" too.
    const openSbiLines = kvmLines(oursOpenSbi)
    expect(openSbiLines, oursOpenSbi.slice(-3000)).toContain('kvm [1]: using Sv57x4 G-stage page table format')
    expect(openSbiLines).toContain('Boot HART Base ISA        : rv64imafdch')
    expect(openSbiLines).toEqual(kvmLines(theirs))
    // kvmcheck powered the machines off: all ran to the end.
    for (const out of [ours, oursOpenSbi, theirs]) expect(out).toContain('reboot: Power down')
  }, 900_000)
})
