import { defineConfig } from 'tsup'
export default defineConfig({ entry: ['src/index.ts', 'src/node.ts', 'src/testing/index.ts', 'src/testing/node.ts'], format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'es2022' })
