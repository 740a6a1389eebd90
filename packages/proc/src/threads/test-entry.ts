/** A Worker entry serving TEST_TASKS (pool.test.ts). */
import { nodeHartThreadPort } from './node.js'
import { serveHartTasks } from './serve.js'
import { TEST_TASKS } from './test-tasks.js'

serveHartTasks(nodeHartThreadPort(), TEST_TASKS)
