#!/usr/bin/env node
/** Entry point of `honk-mkimage` (the program is mkimage.ts). */
import { main } from './mkimage.js'

process.exitCode = await main(process.argv.slice(2))
