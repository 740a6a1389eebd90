/**
 * honk's virtual machine monitor for the RISC-V hypervisor extension (layer 2): guest RAM in host
 * memory behind an Sv39x4 G stage, vCPUs that run a guest on any hart implementing the narrow
 * {@link GuestHart} interface with an instruction budget (preemptible), a guest-facing SBI, MMIO
 * trap-and-emulate (htinst or the guest's own instruction, compressed too, paging on or off),
 * interrupt injection through hvip, a guest device tree and the Linux boot protocol.
 *
 * @example
 * ```ts
 * import { demoGuest, demoVm, runVm, outcomeMessage, DEMO_MESSAGE } from '@honk/vmm'
 * const { vm } = demoVm(demoGuest(DEMO_MESSAGE), { base: 0x8800_0000, bytes: hostRam }, { write: (b) => out.push(b) })
 * const outcome = runVm(vm, [guestHart], { idle: (until) => clock.skipTo(until) })
 * console.log(outcomeMessage(outcome))            // "guest halted (SBI shutdown)"
 * ```
 * @packageDocumentation
 */
export * from './constants.js'
export { VmError, type VmErrorCode } from './errors.js'
export type { GuestHart, GuestRunResult, GuestTrap } from './guest-hart.js'
export { GuestRam, guestRange } from './memory.js'
export { GStageBuilder, hgatpSv39x4, writeGStage, writeMegapages, writeVSStage } from './tables.js'
export { decodeMmio, decodeTransformed, signExtend, type MmioAccess } from './decode.js'
export { fetchGuestInstruction, vsTranslate, type WalkFault } from './walk.js'
export * as asm from './encode.js'
export { DEMO_MESSAGE, PAGING_MESSAGE, dbcnGuest, demoGuest, irqGuest, mmioGuest, pagingGuest, timerGuest, virtioGuest } from './guests.js'
export { DemoDevice } from './demo-device.js'
export { VCpu, VM, type GuestConsole, type HaltReason, type HostRegion, type VcpuExit, type VcpuState, type VmOptions } from './vm.js'
export { demoVm, outcomeMessage, runVm, runVmAsync, type DemoVm, type RunVmAsyncOptions, type RunVmOptions, type VmOutcome } from './run.js'
export { DEMOS, demoByName, runDemo, runDemoAsync, type DemoName, type DemoSpec } from './demos.js'
export { VirtualPlic } from './vplic.js'
export { GUEST_ISA, LINUX_VM_PLIC, LINUX_VM_VIRTIO, bootLinux, guestDeviceTree, linuxVm, parseLinuxImage, type LinuxVmOptions, type GuestDeviceNode, type GuestTreeConfig, type LinuxBootOptions, type LinuxImageHeader, type LinuxLayout } from './linux.js'
