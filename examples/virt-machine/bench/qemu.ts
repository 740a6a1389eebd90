/**
 * Times qemu-system-riscv64 from spawn until its console (serial on stdio) prints `mark`; the
 * benchmarks' peer runs. `reply` answers console text (e.g. a key to stop U-Boot's autoboot).
 */
import { spawn } from 'node:child_process'

export function timeQemuUntil(args: readonly string[], mark: string, options: { timeoutMs?: number; reply?: (text: string) => string | undefined } = {}): Promise<number> {
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
        resolve((performance.now() - t0) / 1000)
        q.kill()
      }
    })
  })
}
