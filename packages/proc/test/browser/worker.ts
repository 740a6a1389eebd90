// The worker of the browser test: the WASI runner on a browser Worker's global scope.
import { runWasiWorkerInBrowser } from '../../src/index.ts'
runWasiWorkerInBrowser()
