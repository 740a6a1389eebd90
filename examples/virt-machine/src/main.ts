/**
 * `pnpm start`: boots honk (the TypeScript kernel on the virt machine) to its shell.
 * `pnpm start -- --help` lists the options.
 */
import { honkMain } from './honk-cli.js'

process.exitCode = await honkMain(process.argv.slice(2))
