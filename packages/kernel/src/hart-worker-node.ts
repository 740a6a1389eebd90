/** The Node Worker entry of a hart's thread: serves the kernel's hart tasks (see node.ts). */
import { serveHartTasks } from '@honk/proc'
import { nodeHartThreadPort } from '@honk/proc/node'
import { KERNEL_HART_TASKS } from './hart-tasks.js'

serveHartTasks(nodeHartThreadPort(), KERNEL_HART_TASKS)
