/**
 * When `HONK_TEST_JSON=<file>` is set (as `.ci/run` does), vitest also writes its JSON report
 * there, so CI can print the plain `N passed, N failed` line it is judged by.
 */
export function reporting(): { reporters: string[]; outputFile?: { json: string } } {
  const json = process.env['HONK_TEST_JSON']
  return json ? { reporters: ['default', 'json'], outputFile: { json } } : { reporters: ['default'] }
}
