#!/usr/bin/env node
/** Entry point of `honk-virt` (see cli.ts). */
import { main } from './cli.js'

process.exitCode = await main(process.argv.slice(2))
