/** The machine: blk, mount, reset, fault, reboot, exit. */
import { defineCommand, type RunResult } from './command.js'
import { describeError, errorMessage, MiB } from './format.js'

export const blk = defineCommand({
  name: 'blk',
  usage: 'blk',
  summary: 'block device geometry and a read/write self-test on a reserved block',
  group: 'machine',
  /**
   * Geometry, then a read/write self-test on the block the storage layer reserved for it
   * (never live data): save it, write a pattern, read it back, restore it, flush.
   */
  async run(ctx) {
    const storage = ctx.host.storage
    if (!storage) return ctx.println('blk: no block device')
    const dev = storage.device
    const bs = dev.blockSize
    ctx.println(`blk: ${dev.blockCount} blocks x ${bs} B = ${Math.floor((dev.blockCount * bs) / MiB)} MiB`)
    const lba = storage.scratchBlock
    const saved = new Uint8Array(bs)
    try {
      await dev.read(lba, saved)
    } catch (e) {
      return ctx.println(`blk: read error: ${errorMessage(e)}`)
    }
    const pattern = new Uint8Array(bs)
    for (let i = 0; i < bs; i++) pattern[i] = (i * 7 + 1) & 0xff
    try {
      try {
        await dev.write(lba, pattern)
      } catch (e) {
        return ctx.println(`blk: write error: ${errorMessage(e)}`)
      }
      const back = new Uint8Array(bs)
      try {
        await dev.read(lba, back)
      } catch (e) {
        return ctx.println(`blk: read error: ${errorMessage(e)}`)
      }
      ctx.println(back.every((b, i) => b === pattern[i]) ? `blk: read/write self-test OK (block ${lba})` : 'blk: read/write self-test MISMATCH')
    } finally {
      try {
        await dev.write(lba, saved)
        await dev.flush()
      } catch (e) {
        ctx.println(`blk: restore error: ${errorMessage(e)}`)
      }
    }
  },
})

export const mount = defineCommand({
  name: 'mount',
  usage: 'mount',
  summary: 'the layers of the root filesystem, top first',
  group: 'machine',
  run(ctx) {
    for (const l of ctx.host.root.layers) ctx.println(`  ${l.name.padEnd(6)} ${l.mode.padEnd(10)} ${l.detail}`)
  },
})

export const reset = defineCommand({
  name: 'reset',
  usage: 'reset --confirm',
  summary: 'clears ALL state in the writable layer (the verified core remains)',
  group: 'machine',
  async run(ctx, args) {
    const root = ctx.host.root
    // A damaged layer shown read-only (the boot said "copy them off, then `reset`") can be reset.
    const damaged = root.layers.some((l) => l.name === 'kv' && l.mode === 'read-only')
    if (!root.writable && !damaged) return ctx.println('reset: no writable layer (read-only core)')
    if (args[0] !== '--confirm') return ctx.println('reset: clears ALL state in the writable layer; re-run as: reset --confirm')
    try {
      await root.reset()
      ctx.println(`reset: writable layer cleared (immutable core ${root.bootCore} remains)`)
    } catch (e) {
      ctx.println(`reset: ${describeError(e)}`)
    }
  },
})

export const fault = defineCommand({
  name: 'fault',
  usage: 'fault',
  summary: 'raises a supervisor exception: the trap handler reports it and powers off',
  group: 'machine',
  run(ctx): RunResult {
    ctx.println('fault: raising a supervisor exception...')
    ctx.host.raiseFault()
    return 'continue'
  },
})

export const reboot = defineCommand({
  name: 'reboot',
  usage: 'reboot',
  summary: 'closes the writable layer and restarts the machine on the same disk',
  group: 'machine',
  async run(ctx): Promise<RunResult> {
    ctx.println('honk: rebooting')
    await ctx.host.reboot()
    return 'exit'
  },
})

export const exit = defineCommand({
  name: 'exit',
  aliases: ['halt', 'quit'],
  usage: 'exit',
  summary: 'closes the writable layer and powers the machine off',
  group: 'machine',
  async run(ctx): Promise<RunResult> {
    ctx.println('honk: shutting down')
    await ctx.host.powerOff()
    return 'exit'
  },
})
