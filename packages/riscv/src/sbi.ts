/**
 * Numbers of the RISC-V Supervisor Binary Interface, specification v2.0 (chapter references in
 * comments): what the firmware (`@honk/sbi`) answers and the kernel (`@honk/kernel`) calls.
 * Values are `number`s; registers carry them as sign-extended 64-bit values.
 */

/** Extension IDs (a7). */
export const EID = {
  /** §5: legacy extensions, one EID per function, a6 ignored. */
  LEGACY_SET_TIMER: 0x00,
  LEGACY_CONSOLE_PUTCHAR: 0x01,
  LEGACY_CONSOLE_GETCHAR: 0x02,
  LEGACY_CLEAR_IPI: 0x03,
  LEGACY_SEND_IPI: 0x04,
  LEGACY_REMOTE_FENCE_I: 0x05,
  LEGACY_REMOTE_SFENCE_VMA: 0x06,
  LEGACY_REMOTE_SFENCE_VMA_ASID: 0x07,
  LEGACY_SHUTDOWN: 0x08,
  /** §4 */
  BASE: 0x10,
  /** §6 "TIME" */
  TIME: 0x54494d45,
  /** §7 "sPI" */
  IPI: 0x735049,
  /** §8 "RFNC" */
  RFENCE: 0x52464e43,
  /** §9 "HSM" */
  HSM: 0x48534d,
  /** §10 "SRST" */
  SRST: 0x53525354,
  /** §11 "PMU" (not implemented here) */
  PMU: 0x504d55,
  /** §12 "DBCN" */
  DBCN: 0x4442434e,
  /** §13 "SUSP" (not implemented here) */
  SUSP: 0x53555350,
  /** §14 "CPPC" (not implemented here) */
  CPPC: 0x43505043,
  /** §15 "NACL" (not implemented here) */
  NACL: 0x4e41434c,
  /** §16 "STA" (not implemented here) */
  STA: 0x535441,
} as const

/** Function IDs (a6) per extension. */
export const BASE_FID = { GET_SPEC_VERSION: 0, GET_IMPL_ID: 1, GET_IMPL_VERSION: 2, PROBE_EXTENSION: 3, GET_MVENDORID: 4, GET_MARCHID: 5, GET_MIMPID: 6 } as const
export const TIME_FID = { SET_TIMER: 0 } as const
export const IPI_FID = { SEND_IPI: 0 } as const
export const RFENCE_FID = {
  REMOTE_FENCE_I: 0,
  REMOTE_SFENCE_VMA: 1,
  REMOTE_SFENCE_VMA_ASID: 2,
  REMOTE_HFENCE_GVMA_VMID: 3,
  REMOTE_HFENCE_GVMA: 4,
  REMOTE_HFENCE_VVMA_ASID: 5,
  REMOTE_HFENCE_VVMA: 6,
} as const
export const HSM_FID = { HART_START: 0, HART_STOP: 1, HART_GET_STATUS: 2, HART_SUSPEND: 3 } as const
export const SRST_FID = { SYSTEM_RESET: 0 } as const
export const DBCN_FID = { CONSOLE_WRITE: 0, CONSOLE_READ: 1, CONSOLE_WRITE_BYTE: 2 } as const

/** §3: standard error codes (returned in a0). */
export const SBI_SUCCESS = 0
export const SBI_ERR_FAILED = -1
export const SBI_ERR_NOT_SUPPORTED = -2
export const SBI_ERR_INVALID_PARAM = -3
export const SBI_ERR_DENIED = -4
export const SBI_ERR_INVALID_ADDRESS = -5
export const SBI_ERR_ALREADY_AVAILABLE = -6
export const SBI_ERR_ALREADY_STARTED = -7
export const SBI_ERR_ALREADY_STOPPED = -8
export const SBI_ERR_NO_SHMEM = -9

/** Every error code of v2.0, for checks that a result is one of them. */
export const SBI_ERRORS: readonly number[] = [
  SBI_SUCCESS,
  SBI_ERR_FAILED,
  SBI_ERR_NOT_SUPPORTED,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_DENIED,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_ALREADY_STARTED,
  SBI_ERR_ALREADY_STOPPED,
  SBI_ERR_NO_SHMEM,
]

/** §9: HSM hart states. */
export const HsmState = {
  STARTED: 0,
  STOPPED: 1,
  START_PENDING: 2,
  STOP_PENDING: 3,
  SUSPENDED: 4,
  SUSPEND_PENDING: 5,
  RESUME_PENDING: 6,
} as const
export type HsmState = (typeof HsmState)[keyof typeof HsmState]

/** §9.4: hart suspend types. */
export const SUSPEND_TYPE = {
  DEFAULT_RETENTIVE: 0x0000_0000,
  DEFAULT_NON_RETENTIVE: 0x8000_0000,
} as const

/** §10.1: system reset types. */
export const RESET_TYPE = { SHUTDOWN: 0, COLD_REBOOT: 1, WARM_REBOOT: 2 } as const
/** §10.1: system reset reasons. */
export const RESET_REASON = { NONE: 0, SYSTEM_FAILURE: 1 } as const

/** `get_spec_version`: major in bits 30:24, minor in 23:0 (§4.1). v2.0. */
export const SBI_SPEC_VERSION = (2 << 24) | 0

/**
 * `get_impl_id` of this implementation. The SBI spec allocates 0..11 (BBL … bhyve); honk has no
 * allocation, so it answers ASCII "honk" (0x686f6e6b), far outside the allocated range.
 */
export const SBI_IMPL_ID_HONK = 0x686f6e6b
/** `get_impl_version`: major << 16 | minor of `@honk/sbi` (0.1). */
export const SBI_IMPL_VERSION = (0 << 16) | 1
