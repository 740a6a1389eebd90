/**
 * The `vm [timer|paging|dbcn|mmio|irq|virtio]` demos of the Go honk (inventory §1.10.7, §2.3): each
 * payload with its launch line and the frame around the guest's own output.
 */
import { VS_ROOT_OFF, GUEST_BASE } from './constants.js'
import { VmError } from './errors.js'
import type { GuestHart } from './guest-hart.js'
import { DEMO_MESSAGE, PAGING_MESSAGE, dbcnGuest, demoGuest, irqGuest, mmioGuest, pagingGuest, timerGuest, virtioGuest } from './guests.js'
import { demoVm, outcomeMessage, runVm, runVmAsync, type RunVmAsyncOptions, type RunVmOptions, type VmOutcome } from './run.js'
import type { HostRegion, VM } from './vm.js'

export type DemoName = 'default' | 'timer' | 'paging' | 'dbcn' | 'mmio' | 'irq' | 'virtio'

export interface DemoSpec {
  readonly payload: () => Uint8Array
  /** Guest RAM with an identity VS table (the paging demo). */
  readonly paging: boolean
  readonly launch: (bytes: number) => string
  /** Printed before the guest runs, and after it (then the outcome line). */
  readonly prefix: string
  readonly suffix: string
}

export const DEMOS: Readonly<Record<DemoName, DemoSpec>> = {
  default: { payload: () => demoGuest(DEMO_MESSAGE), paging: false, launch: (n) => `vm: launching a VS-mode guest (${n} bytes) under the H-extension`, prefix: '', suffix: '' },
  timer: { payload: () => timerGuest('*', 5), paging: false, launch: (n) => `vm: launching a timer guest (${n} bytes): 5 ticks via VS-timer injection`, prefix: 'vm: guest ticks: ', suffix: '\n' },
  paging: {
    payload: () => pagingGuest(PAGING_MESSAGE, GUEST_BASE + VS_ROOT_OFF),
    paging: true,
    launch: (n) => `vm: launching a paging guest (${n} bytes): enables its own Sv39 (vsatp) over honk's G-stage`,
    prefix: '',
    suffix: '',
  },
  dbcn: { payload: dbcnGuest, paging: false, launch: (n) => `vm: launching a dbcn guest (${n} bytes): SBI DBCN console_write from guest memory`, prefix: 'vm: guest console: ', suffix: '\n' },
  mmio: { payload: mmioGuest, paging: false, launch: (n) => `vm: launching an mmio guest (${n} bytes): trap-and-emulate a device register`, prefix: 'vm: guest console: ', suffix: '\n' },
  irq: { payload: () => irqGuest('#', 3), paging: false, launch: (n) => `vm: launching an irq guest (${n} bytes): 3 device interrupts via hvip.VSEIP injection`, prefix: 'vm: guest IRQs: ', suffix: '\n' },
  virtio: { payload: virtioGuest, paging: false, launch: (n) => `vm: launching a virtio guest (${n} bytes): a split-virtqueue device round trip`, prefix: 'vm: guest console: ', suffix: '\n' },
}

/** The demo an argument names: an unrecognised one (or none) is the default demo, as in the Go honk. */
export function demoByName(arg: string | undefined): DemoName {
  return arg !== undefined && arg !== 'default' && Object.hasOwn(DEMOS, arg) ? (arg as DemoName) : 'default'
}

/**
 * Runs a demo as `vm <name>` does, writing its transcript to `print` (launch line, the guest's
 * output framed, `vm: <outcome>`). A fault prints the Go honk's `vm: guest fault …` line first.
 * Returns undefined when the payload did not fit (`vm: guest too large (…)`).
 */
export function runDemo(name: DemoName, host: HostRegion, hart: GuestHart, print: (text: string) => void, options: RunVmOptions): VmOutcome | undefined {
  const d = startDemo(name, host, print)
  if (!d) return undefined
  const outcome = runVm(d.vm, [hart], options)
  d.finish(outcome)
  return outcome
}

/** {@link runDemo} on harts lent a slice at a time (honk's shell: the machine runs on between slices). */
export async function runDemoAsync(name: DemoName, host: HostRegion, print: (text: string) => void, options: RunVmAsyncOptions): Promise<VmOutcome | undefined> {
  const d = startDemo(name, host, print)
  if (!d) return undefined
  const outcome = await runVmAsync(d.vm, options)
  d.finish(outcome)
  return outcome
}

function startDemo(name: DemoName, host: HostRegion, print: (text: string) => void): { vm: VM; finish: (o: VmOutcome) => void } | undefined {
  const spec = DEMOS[name]
  const payload = spec.payload()
  print(spec.launch(payload.length) + '\n')
  let built
  try {
    built = demoVm(payload, host, { write: (b) => print(String.fromCharCode(b)) }, spec.paging)
  } catch (e) {
    if (e instanceof VmError && e.code === 'VM_TOO_LARGE') {
      print(`vm: ${e.message}\n`)
      return undefined
    }
    throw e
  }
  print(spec.prefix)
  return {
    vm: built.vm,
    finish: (outcome) => {
      print(spec.suffix)
      if (outcome.reason === 'fault') print(`\nvm: ${outcome.error.message}\n`)
      print(`vm: ${outcomeMessage(outcome)}\n`)
    },
  }
}
