/**
 * Node-only test tools: the confinement race harness for host-directory filesystems.
 * @packageDocumentation
 */
export {
  SECRET,
  attackArb,
  attackInWorker,
  attackLoop,
  confinementFixture,
  confinementProperty,
  interleavedConfinementProperty,
  interleavingArb,
  runConfinement,
  runInterleaved,
  runVictimOp,
  victimOpArb,
  type Attack,
  type ConfinementFixture,
  type ConfinementReport,
  type Interleaving,
  type SyscallHook,
  type VictimOp,
} from './confinement.js'
