/**
 * Node-only test tools: the confinement race harness for host-directory filesystems.
 * @packageDocumentation
 */
export { SECRET, attackArb, attackLoop, confinementFixture, confinementProperty, runConfinement, runVictimOp, victimOpArb, type Attack, type ConfinementFixture, type ConfinementReport, type VictimOp } from './confinement.js'
