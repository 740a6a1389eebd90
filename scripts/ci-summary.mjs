// Sums vitest JSON reports into the one plain line CI is judged by: "N passed, N failed".
// A missing or unreadable report counts as a failure (a runner that crashed ran nothing we saw).
import { readFileSync } from 'node:fs'

let passed = 0
let failed = 0
let skipped = 0
for (const file of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'))
    passed += r.numPassedTests
    failed += r.numFailedTests
    skipped += r.numPendingTests + (r.numTodoTests ?? 0)
    if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) failed += r.numFailedTestSuites
  } catch (e) {
    console.error(`ci-summary: no readable report at ${file}: ${e.message}`)
    failed += 1
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
