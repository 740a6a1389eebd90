#!/usr/bin/env node
// The `honk-mkimage` command: runs the built program (dist/, written by `pnpm build`). The file
// is committed so that installing a fresh clone finds the bin it links; before a build it says
// so in one line. From the sources: `pnpm --filter @honk/image mkimage <command> …`.
const entry = new URL('../dist/cli.js', import.meta.url)
try {
  await import(entry.href)
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes(entry.pathname)) throw e
  process.stderr.write('honk-mkimage: not built yet: run `pnpm build` (or use `pnpm --filter @honk/image mkimage …`)\n')
  process.exitCode = 1
}
