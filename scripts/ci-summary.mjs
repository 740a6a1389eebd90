// Sums vitest JSON reports into the one plain line CI is judged by: "N passed, N failed".
// A missing or unreadable report counts as a failure (a runner that crashed ran nothing we saw).
// Under CI=true a skipped or todo test counts as failed and is named: the differential tests
// skip when their tool (QEMU, binutils, U-Boot, diod…) is missing, and CI installs every tool,
// so a skip there is a proof that silently did not run.
import { readFileSync } from 'node:fs'

const strict = process.env.CI === 'true'
let passed = 0
let failed = 0
let skipped = 0
const skippedNames = []
for (const file of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'))
    passed += r.numPassedTests
    failed += r.numFailedTests
    skipped += r.numPendingTests + (r.numTodoTests ?? 0)
    if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) failed += r.numFailedTestSuites
    for (const suite of r.testResults ?? []) {
      for (const t of suite.assertionResults ?? []) {
        if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') {
          skippedNames.push(`${suite.name}: ${t.fullName ?? t.title}`)
        }
      }
    }
  } catch (e) {
    console.error(`ci-summary: no readable report at ${file}: ${e.message}`)
    failed += 1
  }
}
if (strict && skipped > 0) {
  console.error(`ci-summary: ${skipped} test(s) skipped under CI=true (each counts as failed):`)
  for (const name of skippedNames) console.error(`  skipped: ${name}`)
  failed += skipped
  skipped = 0
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
