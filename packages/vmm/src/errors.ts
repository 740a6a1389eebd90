import { HonkError } from '@honk/errors'

/**
 * Why a VM or one of its vCPUs stopped or could not be built:
 * - `VM_CONFIG`: the host asked for something impossible (RAM not aligned, too large, a device overlapping RAM);
 * - `VM_TOO_LARGE`: a payload, kernel, initrd or device tree does not fit guest RAM;
 * - `VM_GUEST_FAULT`: the guest took a trap the VMM cannot handle (a fetch outside RAM, an MMIO access
 *   nothing answers, an instruction it cannot decode);
 * - `VM_BAD_IMAGE`: a Linux `Image` whose header is not one;
 * - `VM_HART`: the hart under the vCPU reported an error.
 * Only the guest that caused one ends: the host and the other VMs go on.
 */
export type VmErrorCode = 'VM_CONFIG' | 'VM_TOO_LARGE' | 'VM_GUEST_FAULT' | 'VM_BAD_IMAGE' | 'VM_HART'

export class VmError extends HonkError<VmErrorCode> {
  constructor(code: VmErrorCode, message: string) {
    super(code, message)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    VmError: VmError
  }
}
