import { crashRun } from '../src/crash-harness.ts'
const seed = Number(process.argv[2])
try {
  await crashRun(seed, 8, 16, (l) => console.log(l))
  console.log('passed')
} catch (e) {
  console.log(String(e))
}
