/**
 * Test helpers (not exported from the package): a tiny WebAssembly binary writer for
 * hand-written modules, so unit tests need no toolchain.
 */
export type ValType = 'i32' | 'i64'
const VT: Record<ValType, number> = { i32: 0x7f, i64: 0x7e }

export interface FuncSpec {
  params?: ValType[]
  results?: ValType[]
  locals?: ValType[]
  /** The body's instructions, without the final `end`. */
  body: number[]
  export?: string
}
export interface ModuleSpec {
  /** wasi_snapshot_preview1 imports, by name, with their signature. */
  imports?: { name: string; params: ValType[]; results: ValType[]; module?: string }[]
  memory?: { min: number; max?: number }
  data?: { offset: number; bytes: Uint8Array | string }[]
  funcs: FuncSpec[]
  /** Index (in the function space) of a start function, run during instantiation. */
  start?: number
}

export function uleb(v: number | bigint): number[] {
  let x = BigInt(v)
  const out: number[] = []
  do {
    let b = Number(x & 0x7fn)
    x >>= 7n
    if (x !== 0n) b |= 0x80
    out.push(b)
  } while (x !== 0n)
  return out
}
export function sleb(v: number | bigint): number[] {
  let x = BigInt(v)
  const out: number[] = []
  for (;;) {
    const b = Number(x & 0x7fn)
    x >>= 7n
    if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}
const str = (s: string): number[] => {
  const b = new TextEncoder().encode(s)
  return [...uleb(b.length), ...b]
}
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]

/** Instructions. */
export const op = {
  i32: (v: number) => [0x41, ...sleb(v)],
  i64: (v: number | bigint) => [0x42, ...sleb(v)],
  call: (f: number) => [0x10, ...uleb(f)],
  drop: [0x1a],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  memoryGrow: [0x40, 0x00],
  memorySize: [0x3f, 0x00],
  i32Eq: [0x46],
  i32Add: [0x6a],
  loop: [0x03, 0x40],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  end: [0x0b],
  unreachable: [0x00],
  if: [0x04, 0x40],
  else: [0x05],
}

/** Assembles a module; imported functions come first in the function index space. */
export function assemble(spec: ModuleSpec): Uint8Array {
  const imports = spec.imports ?? []
  const types: number[][] = []
  const sig = (p: ValType[], r: ValType[]): number => {
    types.push([0x60, ...vec(p.map((t) => [VT[t]])), ...vec(r.map((t) => [VT[t]]))])
    return types.length - 1
  }
  const importEntries = imports.map((i) => [...str(i.module ?? 'wasi_snapshot_preview1'), ...str(i.name), 0x00, ...uleb(sig(i.params, i.results))])
  const funcTypes = spec.funcs.map((f) => uleb(sig(f.params ?? [], f.results ?? [])))
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
  out.push(...section(1, vec(types)))
  if (importEntries.length) out.push(...section(2, vec(importEntries)))
  out.push(...section(3, vec(funcTypes)))
  if (spec.memory) {
    const m = spec.memory
    out.push(...section(5, vec([m.max === undefined ? [0x00, ...uleb(m.min)] : [0x01, ...uleb(m.min), ...uleb(m.max)]])))
  }
  const exports: number[][] = []
  if (spec.memory) exports.push([...str('memory'), 0x02, 0x00])
  spec.funcs.forEach((f, i) => {
    if (f.export) exports.push([...str(f.export), 0x00, ...uleb(imports.length + i)])
  })
  out.push(...section(7, vec(exports)))
  if (spec.start !== undefined) out.push(...section(8, uleb(spec.start)))
  const bodies = spec.funcs.map((f) => {
    const locals = (f.locals ?? []).map((t) => [1, VT[t]])
    const body = [...vec(locals), ...f.body, 0x0b]
    return [...uleb(body.length), ...body]
  })
  out.push(...section(10, vec(bodies)))
  if (spec.data?.length) {
    out.push(
      ...section(
        11,
        vec(
          spec.data.map((d) => {
            const b = typeof d.bytes === 'string' ? new TextEncoder().encode(d.bytes) : d.bytes
            return [0x00, 0x41, ...sleb(d.offset), 0x0b, ...uleb(b.length), ...b]
          }),
        ),
      ),
    )
  }
  return new Uint8Array(out)
}

const I = 'i32' as const
/** hello: writes "hello\n" to stdout, exits with `code`. */
export function helloModule(code = 0, text = 'hello\n'): Uint8Array {
  return assemble({
    imports: [
      { name: 'fd_write', params: [I, I, I, I], results: [I] },
      { name: 'proc_exit', params: [I], results: [] },
    ],
    memory: { min: 1 },
    data: [
      { offset: 0, bytes: new Uint8Array([16, 0, 0, 0, new TextEncoder().encode(text).length, 0, 0, 0]) },
      { offset: 16, bytes: text },
    ],
    funcs: [{ export: '_start', body: [...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(8), ...op.call(0), ...op.drop, ...op.i32(code), ...op.call(1)] }],
  })
}

/** loop: never returns and never calls the host. */
export function loopModule(): Uint8Array {
  return assemble({ memory: { min: 1 }, funcs: [{ export: '_start', body: [...op.loop, ...op.br(0), ...op.end] }] })
}
