import type { ConsoleSession } from './session.js'

/**
 * Waits until BusyBox's shell (rdinit=/bin/sh) answers on the console: input typed before the
 * 8250 driver opened the port is dropped with its FIFO, so the probe is typed again until the
 * shell's answer (R-100, which the typed text itself does not contain) comes back.
 * (The workloads mount devtmpfs first: ash gives a background job /dev/null as its input.)
 */
export async function shellReady(session: ConsoleSession, timeoutMs = 600_000): Promise<void> {
  await session.waitFor('job control turned off', timeoutMs)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    session.send('echo R-$((99+1))\n')
    try {
      await session.waitFor('R-100', 5_000)
      return
    } catch (e) {
      if (Date.now() > deadline) throw e
    }
  }
}
