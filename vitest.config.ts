import { defineConfig } from 'vitest/config'
import { reporting } from './vitest.reporting.ts'

// `pnpm test`: the fast tier, one vitest project per package (each package's vitest.config.ts).
export default defineConfig({
  test: { projects: ['packages/*', 'examples/*'], ...reporting() },
})
