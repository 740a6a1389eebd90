/**
 * The device set of the honk machine, device side and driver side: the virtio-mmio v2
 * transport, split virtqueues, device models (blk, net, console, rng, 9p) with pluggable
 * backends, a virtio driver for honk's own kernel, and the simple MMIO devices of QEMU's virt
 * board (ns16550a UART, goldfish RTC; the SiFive test device is `@honk/rv64`'s `SifiveTest`).
 *
 * @example
 * ```ts
 * import { MemoryBlockDevice } from '@honk/block'
 * import { busMemory, VirtioBlk, VirtioMmio, Ns16550a } from '@honk/virtio'
 * const memory = busMemory(sys.bus)                           // DMA into the machine's RAM
 * const blk = new VirtioBlk(new MemoryBlockDevice(2048))      // 1 MiB disk
 * sys.map(0x1000_1000, new VirtioMmio(blk, { memory, irq: plic.line(1) }))
 * sys.map(0x1000_0000, new Ns16550a({ irq: plic.line(10), transmit: (b) => process.stdout.write(Uint8Array.of(b)) }))
 * ```
 * @packageDocumentation
 */
export * from './constants.js'
export { VirtioDeviceBase, type VirtioContext, type VirtioDevice } from './device.js'
export { VirtioAnswerTooLongError, VirtioConfigError, VirtioDriverError, VirtioRequestError, VirtqueueError } from './errors.js'
export { RamGuestMemory, busMemory, noIrq, type GuestMemory, type IrqLine } from './memory.js'
export { VirtioMmio, type VirtioMmioOptions } from './mmio.js'
export { MsixTable, PciFunction, PcieHost, PcieHostBridge, addMsixCapability, type PciBar, type PciIdentity, type PcieHostOptions } from './pci.js'
export { NvmeDisk, NvmeStatusError, pciPlaceBar, pciScan, type NvmeDriverOptions, type PciProbe } from './nvme-driver.js'
export { NVME_ADMIN, NVME_IO, NVME_MAX_IO_QUEUES, NVME_MAX_QUEUE_ENTRIES, NVME_REG, NVME_SC, NvmeController, NvmeGuestError, type NvmeOptions, type NvmeStats } from './nvme.js'
export { VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_CAP, VIRTIO_PCI_COMMON, VirtioPci, type VirtioPciOptions } from './virtio-pci.js'
export { Chain, MAX_INDIRECT_ENTRIES, Virtqueue, type QueueHost, type QueueLayout, type Segment } from './virtqueue.js'
export { BLK_F, BLK_S, BLK_T, SECTOR, VirtioBlk, type BlkStats, type VirtioBlkOptions } from './blk.js'
export { openVirtioNet, VirtioNetPort, type NetDriverStats, type VirtioNetDriverOptions } from './net-driver.js'
export { NET_F, NET_HDR_SIZE, VirtioNet, loopbackPair, parseMac, type FramePort, type NetStats, type VirtioNetOptions } from './net.js'
export { CONSOLE_F, VirtioConsole, type VirtioConsoleOptions } from './console.js'
export { RequestDevice, type RequestDeviceOptions, type RequestHandler } from './request.js'
export { VirtioRng, cryptoRandom, type RandomSource, type VirtioRngOptions } from './rng.js'
export { P9_F_MOUNT_TAG, VirtioP9, rlerror, type P9Handler, type VirtioP9Options } from './p9.js'
export { BumpAllocator, DriverQueue, VirtioMmioDriver, type DmaAllocator, type DriverSegment, type ProbeResult, type RegisterWindow, type UsedEntry } from './driver.js'
export { VirtioBlkDisk, VirtioBlkStatusError, openVirtioBlk, type BlkRequestOp, type VirtioBlkDriverOptions } from './blk-driver.js'
export { IER, IIR, LSR, MCR, MSR, POLLING_READS, UART, UART_FIFO_DEPTH, Ns16550a, type Ns16550aOptions } from './uart.js'
export { GoldfishRtc, RTC, hostClock, type GoldfishRtcOptions, type NanoClock } from './rtc.js'
export { GPU_CMD, GPU_EVENT_DISPLAY, GPU_F, GPU_FLAG_FENCE, GPU_FORMAT, GPU_HDR_SIZE, GPU_MAX_SCANOUTS, GPU_RESP, VirtioGpu, buildEdid, type GpuCursor, type GpuDisplay, type GpuFlush, type GpuStats, type Rect, type VirtioGpuOptions } from './gpu.js'
export { EV, INPUT_CFG, INPUT_CODE, INPUT_EVENT_SIZE, TABLET_MAX, VirtioInput, VirtioKeyboard, VirtioTablet, buttonFromDom, keyCodeFromDom, type AbsInfo, type InputDescription, type InputEvent, type InputStats, type VirtioInputOptions } from './input.js'
export { GpuSurface, VirtioGpuCommandError, VirtioGpuDriver, openVirtioGpu, type GpuCommand, type GpuDisplayInfo, type GpuDriverStats, type VirtioGpuDriverOptions } from './gpu-driver.js'
export { VirtioInputPort, openVirtioInput, type InputDriverStats, type VirtioInputDriverOptions } from './input-driver.js'
