/** Raised inside the interpreter (and the page walks, walk.ts) to take a trap; never escapes `Hart.run()`. */
export class Trap {
  constructor(
    readonly cause: number,
    readonly tval: bigint,
    /** htval/mtval2: a guest physical address >> 2 (guest-page faults), else 0. */
    readonly tval2: bigint = 0n,
    /** htinst/mtinst: a (pseudo)instruction, or 0. */
    readonly tinst: bigint = 0n,
    /** tval is a guest virtual address (hstatus.GVA / mstatus.GVA). */
    readonly gva: boolean = false,
  ) {}
}
