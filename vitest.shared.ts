import { defaultServerConditions } from 'vite'
import { defineProject, type UserWorkspaceConfig } from 'vitest/config'

/**
 * One vitest project per package. Workspace dependencies resolve to their TypeScript
 * sources through the `@honk/source` export condition, so tests never wait on a build.
 * (Vitest runs tests as SSR, so it is `ssr.resolve.conditions` that takes effect.)
 */
export function honkProject(name: string, extra: { testTimeout?: number } = {}): UserWorkspaceConfig {
  return defineProject({
    ssr: { resolve: { conditions: ['@honk/source', ...defaultServerConditions] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: ['**/*.system.test.ts', '**/node_modules/**'],
      testTimeout: extra.testTimeout ?? 30_000,
    },
  })
}

/** The slow tier: boots and comparisons against real components (`*.system.test.ts`). */
export function honkSystemProject(name: string): UserWorkspaceConfig {
  return defineProject({
    ssr: { resolve: { conditions: ['@honk/source', ...defaultServerConditions] } },
    test: {
      name: `system:${name}`,
      include: ['src/**/*.system.test.ts', 'test/**/*.system.test.ts'],
      testTimeout: 600_000,
      hookTimeout: 600_000,
    },
  })
}
