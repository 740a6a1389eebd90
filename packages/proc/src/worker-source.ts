/** How Node starts a Worker on a module of ours, from sources or from the build. */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

/**
 * How to start a Worker on the module `entry`: a TypeScript source (tests,
 * `--conditions=@honk/source`) registers tsx first; a built `.js` module loads directly.
 */
export function moduleWorkerSource(entry: URL): { code: string | URL; eval: boolean } {
  if (!entry.pathname.endsWith('.ts')) return { code: entry, eval: false }
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs')
  return { code: `const { register } = await import(${JSON.stringify(api)}); register(); await import(${JSON.stringify(entry.href)})`, eval: true }
}
