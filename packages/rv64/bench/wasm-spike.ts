/**
 * `node --conditions=@honk/source --import tsx bench/wasm-spike.ts [N] [calls]` (issue #18):
 * a spike, not a tier — what a WebAssembly block tier would cost and give. A straight run of N RV64 instructions
 * (the mix of Linux's blake2s_compress_generic: 32-bit adds, xors, rotates as shift pairs, word
 * loads and stores off a base register) compiled to one Wasm function over a Wasm memory holding
 * the registers (i64 at 8·r) and RAM (from 4096); timed against our interpreter running the same
 * bytes. Prints compile time per instruction (new WebAssembly.Module + instance) and ns per
 * executed instruction for both.
 */
import { createSystem } from '../src/index.ts'
import { I, R, S, words } from '../src/encode.test-helpers.ts'

const N = Number(process.argv[2] ?? 256)
const CALLS = Number(process.argv[3] ?? 3000)
if (!Number.isInteger(N) || N < 1 || N > 20_000 || !Number.isInteger(CALLS) || CALLS < 200) {
  console.error('usage: wasm-spike.ts [instructions 1–20000] [calls ≥ 200]')
  process.exit(2)
}
// The program: x10 = data base (RAM offset 0x1000 from BASE); x5..x9, x11..x15 working registers.
const regs = [5, 6, 7, 8, 9, 11, 12, 13, 14, 15]
let seed = 12345
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n
type Ins = { k: 'addw' | 'xor' | 'slliw' | 'srliw' | 'or' | 'lw' | 'sw' | 'addi'; rd: number; a: number; b: number; imm: number }
const prog: Ins[] = []
for (let i = 0; i < N; i++) {
  const k = (['addw', 'xor', 'slliw', 'srliw', 'or', 'lw', 'sw', 'addi'] as const)[rnd(8)]!
  prog.push({ k, rd: regs[rnd(10)]!, a: regs[rnd(10)]!, b: regs[rnd(10)]!, imm: k === 'lw' || k === 'sw' ? rnd(64) * 4 : k === 'slliw' || k === 'srliw' ? 1 + rnd(31) : rnd(2048) - 1024 })
}
// RISC-V encoding for the interpreter
const enc = (p: Ins): number => {
  switch (p.k) {
    case 'addw': return R(0, p.b, p.a, 0, p.rd, 0x3b)
    case 'xor': return R(0, p.b, p.a, 4, p.rd, 0x33)
    case 'or': return R(0, p.b, p.a, 6, p.rd, 0x33)
    case 'slliw': return I(p.imm, p.a, 1, p.rd, 0x1b)
    case 'srliw': return I(p.imm, p.a, 5, p.rd, 0x1b)
    case 'addi': return I(p.imm, p.a, 0, p.rd)
    case 'lw': return I(p.imm, 10, 2, p.rd, 0x03)
    case 'sw': return S(p.imm, p.b, 10, 2)
  }
}

// ---- a tiny Wasm emitter ---------------------------------------------------------------------
const uleb = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b) } while (n); return o }
const sleb = (n: number): number[] => { const o: number[] = []; for (;;) { const b = n & 0x7f; n >>= 7; if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) { o.push(b); return o } o.push(b | 0x80) } }
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body]
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()]
const str = (s: string) => [...uleb(s.length), ...Buffer.from(s)]
const RAM = 4096 // RAM's offset in the Wasm memory; registers at 8·r
function wasmBlock(p: Ins[]): Uint8Array {
  // locals: one i64 per register used (loaded at entry, stored at exit), as the JS blocks do
  const used = [...new Set(p.flatMap((x) => [x.rd, x.a, x.b, 10]))].sort((a, b) => a - b)
  const L = new Map(used.map((r, i) => [r, i]))
  const c: number[] = []
  const get = (r: number) => c.push(0x20, ...uleb(L.get(r)!))
  const set = (r: number) => c.push(0x21, ...uleb(L.get(r)!))
  for (const r of used) { c.push(0x41, ...sleb(r * 8)); c.push(0x29, 3, 0); set(r) } // i64.load
  const sext32 = () => c.push(0xac) // i64.extend_i32_s
  const wrap = () => c.push(0xa7) // i32.wrap_i64
  for (const x of p) {
    switch (x.k) {
      case 'addw': get(x.a); wrap(); get(x.b); wrap(); c.push(0x6a); sext32(); set(x.rd); break
      case 'xor': get(x.a); get(x.b); c.push(0x85); set(x.rd); break
      case 'or': get(x.a); get(x.b); c.push(0x84); set(x.rd); break
      case 'addi': get(x.a); c.push(0x42, ...sleb(x.imm), 0x7c); set(x.rd); break
      case 'slliw': get(x.a); wrap(); c.push(0x41, ...sleb(x.imm), 0x74); sext32(); set(x.rd); break
      case 'srliw': get(x.a); wrap(); c.push(0x41, ...sleb(x.imm), 0x76); sext32(); set(x.rd); break
      // address = RAM + (x10 - BASE) + imm: x10 holds the RAM offset itself here (the direct window's subtraction folded)
      case 'lw': get(10); wrap(); c.push(0x28, 2, ...uleb(RAM + x.imm)); sext32(); set(x.rd); break
      case 'sw': get(10); wrap(); get(x.b); wrap(); c.push(0x36, 2, ...uleb(RAM + x.imm)); break
    }
  }
  for (const r of used) { if (r === 10) continue; c.push(0x41, ...sleb(r * 8)); get(r); c.push(0x37, 3, 0) } // i64.store
  c.push(0x0b)
  const locals = [...uleb(1), ...uleb(used.length), 0x7e]
  const body = [...locals, ...c]
  const type = section(1, vec([[0x60, 0, 0]]))
  const imp = section(2, vec([[...str('m'), ...str('mem'), 0x02, 0x00, ...uleb(64)]]))
  const func = section(3, vec([[0]]))
  const exp = section(7, vec([[...str('f'), 0x00, 0]]))
  const code = section(10, vec([[...uleb(body.length), ...body]]))
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...type, ...imp, ...func, ...exp, ...code])
}

// ---- Wasm: compile, run CALLS times -------------------------------------------------------------
/** The few WebAssembly JS API members used (the repo's TypeScript libs declare none). */
const WA = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer }; Module: new (b: Uint8Array) => object; Instance: new (m: object, imports: object) => { exports: Record<string, unknown> } } }).WebAssembly
const mem = new WA.Memory({ initial: 64 })
const i64 = new BigInt64Array(mem.buffer)
const bytes = wasmBlock(prog)
const t0 = performance.now()
const inst = new WA.Instance(new WA.Module(bytes), { m: { mem } })
const f = inst.exports.f as () => void
const compileMs = performance.now() - t0
i64[10] = 0x1000n
// The first 100 calls (Liftoff's code: V8 tiers a Wasm function up only once it is hot), then the rest.
const t1 = performance.now()
for (let i = 0; i < 100; i++) f()
const firstNs = ((performance.now() - t1) * 1e6) / (100 * N)
const t1b = performance.now()
for (let i = 100; i < CALLS; i++) f()
const wasmNs = ((performance.now() - t1b) * 1e6) / ((CALLS - 100) * N)

// ---- the interpreter on the same code: straight run + JALR back, CALLS times ---------------------
const BASE = 0x8000_0000
const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 1 << 30 })
const code = [...prog.map(enc), I(0, 1, 0, 0, 0x67)] // jalr x0, 0(x1)
sys.bus.writeBytes(BASE, words(code))
const hart = sys.harts[0]!
hart.setX(1, BigInt(BASE)); hart.setX(10, BigInt(BASE + 0x10000))
hart.pc = BASE
// Warm: V8 optimises the interpreter's loop only after millions of instructions.
for (let w = 0; w < 30_000_000; ) w += hart.run(100_000).executed
const t2 = performance.now()
let executed = 0
while (executed < Math.max(CALLS * (N + 1), 20_000_000)) executed += hart.run(100_000).executed
const interpNs = ((performance.now() - t2) * 1e6) / executed
console.log(`N=${N}: wasm ${bytes.length} B, compile+instantiate ${compileMs.toFixed(2)} ms (${((compileMs * 1e6) / N).toFixed(0)} ns/instr); wasm ${firstNs.toFixed(2)} ns/instr over its first 100 calls, ${wasmNs.toFixed(2)} after; interpreter ${interpNs.toFixed(2)} ns/instr (${CALLS} calls); break-even after ${Math.ceil((compileMs * 1e6) / (N * (interpNs - firstNs)))} calls`)
