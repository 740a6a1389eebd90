#!/usr/bin/env node
/** Entry point of `honk-mkimage` (the program is mkimage.ts). */
import { constants } from 'node:os'
import { main, removeIncomplete } from './mkimage.js'

// Interrupted (Ctrl-C, kill): remove the files of an unfinished write, exit as the signal would.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    removeIncomplete()
    process.stderr.write(`honk-mkimage: interrupted (${signal}); unfinished files removed\n`)
    process.exit(128 + constants.signals[signal])
  })
}

// A reader that went away (`honk-mkimage inspect img | head -1`): stop quietly, as cat does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
  })
}

process.exitCode = await main(process.argv.slice(2))
