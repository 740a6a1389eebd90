import { defineConfig } from 'tsup'
// node.js finds its worker entry beside it, as dist/wasi-worker.js.
export default defineConfig({ entry: { index: 'src/index.ts', node: 'src/node.ts', 'wasi-worker': 'src/wasi/worker-node.ts' }, format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'es2022' })
