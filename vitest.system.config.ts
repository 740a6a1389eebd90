import { defineConfig } from 'vitest/config'
import { reporting } from './vitest.reporting.ts'

// `pnpm test:system`: the slow tier — every package's `*.system.test.ts` (boots, QEMU and other
// real-component comparisons), one file at a time because each wants a whole core.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.system.config.ts', 'examples/*/vitest.system.config.ts'],
    fileParallelism: false,
    passWithNoTests: true,
    ...reporting(),
  },
})
