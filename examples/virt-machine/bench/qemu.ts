/**
 * Times qemu-system-riscv64 from spawn until its console (serial on stdio) prints `mark`; the
 * benchmarks' peer runs. `reply` answers console text (e.g. a key to stop U-Boot's autoboot).
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

export function timeQemuUntil(args: readonly string[], mark: string, options: { timeoutMs?: number; reply?: (text: string) => string | undefined } = {}): Promise<number> {
  return runQemuUntil(args, mark, options).then((r) => r.wall)
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux). */
let clkTck: number | undefined
function ticksPerSecond(): number {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return clkTck
}

/**
 * The CPU seconds (user + system, all threads) process `pid` has used so far, from
 * /proc/<pid>/stat (fields 14 and 15, in clock ticks: 10 ms resolution), or NaN off Linux.
 */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
  } catch {
    return NaN
  }
}

/**
 * As {@link timeQemuUntil}, also giving QEMU's CPU time up to the mark (read from /proc just
 * before it is killed): the measure to use on a shared, busy machine.
 */
export function runQemuUntil(args: readonly string[], mark: string, options: { timeoutMs?: number; reply?: (text: string) => string | undefined } = {}): Promise<{ wall: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const q = spawn('qemu-system-riscv64', [...args, '-display', 'none', '-serial', 'stdio', '-monitor', 'none'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let text = ''
    const timer = setTimeout(() => {
      q.kill()
      reject(new Error(`QEMU did not reach "${mark}": ${text.slice(-500)}`))
    }, options.timeoutMs ?? 300_000)
    q.stdout.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      const answer = options.reply?.(text)
      if (answer !== undefined) q.stdin.write(answer)
      if (text.includes(mark)) {
        clearTimeout(timer)
        const wall = (performance.now() - t0) / 1000
        const cpu = q.pid === undefined ? NaN : processCpuSeconds(q.pid)
        resolve({ wall, cpu })
        q.kill()
      }
    })
  })
}
