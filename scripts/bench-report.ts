/**
 * The benchmark convention of every package: print a readable table and write
 * `bench/results/<pkg>.json` at the repo root. `ratio` is oriented so that > 1 means we are
 * better: for throughputs (higher is better) ours/peer, for latencies (lower is better) peer/ours.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface BenchMetric {
  metric: string
  unit: string
  ours: number
  peer: number
  /** > 1 means ours is better. */
  ratio: number
}

export interface BenchResult {
  name: string
  peer: string
  /** Free-form facts about the run (sizes, quick mode, machine). */
  setup?: Record<string, string | number | boolean>
  metrics: BenchMetric[]
}

/** A metric where higher is better (ops/s, MB/s, instructions/s). */
export function higherIsBetter(metric: string, unit: string, ours: number, peer: number): BenchMetric {
  return { metric, unit, ours, peer, ratio: peer === 0 ? Infinity : ours / peer }
}

/** A metric where lower is better (latency, bytes used). */
export function lowerIsBetter(metric: string, unit: string, ours: number, peer: number): BenchMetric {
  return { metric, unit, ours, peer, ratio: ours === 0 ? Infinity : peer / ours }
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Prints the table and writes `bench/results/<pkg>.json`; returns the path written. */
export function report(pkg: string, result: BenchResult): string {
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3))
  const rows = result.metrics.map((m) => [m.metric, m.unit, fmt(m.ours), fmt(m.peer), m.ratio.toFixed(2)])
  const head = ['metric', 'unit', 'ours', result.peer, 'ratio (>1 = ours better)']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  console.log(`\n${result.name}  (peer: ${result.peer})`)
  if (result.setup) console.log(Object.entries(result.setup).map(([k, v]) => `${k}=${v}`).join('  '))
  console.log(line(head))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
  const out = join(repoRoot, 'bench', 'results', `${pkg}.json`)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
  console.log(`wrote ${out}`)
  return out
}
