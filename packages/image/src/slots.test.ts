import { MemoryBlockDevice } from '@honk/block'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SlotError, Slots, SoftwareAnchor, buildImage, decodeMetadata, defaultMetadata, encodeMetadata, generateKeyPair } from './index.js'

const keys = generateKeyPair(new Uint8Array(32).fill(0x40))
const salt = new Uint8Array(32).fill(1)
const img = (v: bigint, motd = `v${v}`) => buildImage({ 'etc/motd': motd }, { secVersion: v, secretKey: keys.secretKey, salt })
const SLOT = 64 * 1024
const device = () => new MemoryBlockDevice((2 * SLOT) / 512 + 2 + 16)

type SlotCase = 'empty' | 'corrupt' | 'v1' | 'v2' | 'v3-below-floor'
const write = async (slots: Slots, dev: MemoryBlockDevice, slot: 'A' | 'B', c: SlotCase) => {
  if (c === 'empty') return
  const v = c === 'v1' ? 1n : c === 'v2' ? 2n : c === 'v3-below-floor' ? 0n : 2n
  await slots.writeImage(slot, img(v))
  if (c === 'corrupt') {
    const start = (2 + (slot === 'A' ? 0 : SLOT / 512)) * 512
    dev.bytes[start + 100]! ^= 0xff
  }
}

describe('A/B metadata', () => {
  it('round-trips and rejects any corruption (property)', () => {
    fc.assert(
      fc.property(fc.nat(15), fc.nat(7), fc.boolean(), fc.nat(15), fc.nat(7), fc.boolean(), fc.nat(31 * 8), (pa, ta, sa, pb, tb, sb, bit) => {
        const m = { slots: { A: { priority: pa, triesRemaining: ta, successfulBoot: sa }, B: { priority: pb, triesRemaining: tb, successfulBoot: sb } } }
        const b = encodeMetadata(m)
        expect(decodeMetadata(b)).toEqual(m)
        const bad = b.slice()
        bad[bit >> 3]! ^= 1 << (bit & 7)
        const d = decodeMetadata(bad)
        // A flip in a reserved byte is still caught by the CRC.
        expect(d).toBeUndefined()
      }),
    )
  })
})

describe('slot selection', () => {
  const cases: SlotCase[] = ['empty', 'corrupt', 'v1', 'v2', 'v3-below-floor']
  for (const a of cases) {
    for (const b of cases) {
      for (const factoryOk of [true, false]) {
        it(`A=${a} B=${b} factory=${factoryOk ? 'ok' : 'corrupt'}`, async () => {
          const dev = device()
          const slots = new Slots(dev, SLOT)
          await slots.writeMetadata({ slots: { A: { priority: 15, triesRemaining: 7, successfulBoot: false }, B: { priority: 15, triesRemaining: 7, successfulBoot: false } } })
          await write(slots, dev, 'A', a)
          await write(slots, dev, 'B', b)
          // Equal priorities: the test is about versions and validity.
          const m = await slots.readMetadata()
          for (const s of ['A', 'B'] as const) if (m.slots[s].priority > 0) m.slots[s].priority = 15
          await slots.writeMetadata(m)
          const factory = img(1n, 'factory')
          if (!factoryOk) factory[10]! ^= 1
          const anchor = new SoftwareAnchor(keys.publicKey, 1n)
          const valid = (c: SlotCase) => c === 'v1' || c === 'v2'
          const ver = (c: SlotCase) => (c === 'v2' ? 2 : 1)
          let want: string
          if (valid(a) && (!valid(b) || ver(a) >= ver(b))) want = `slot A v${ver(a)}`
          else if (valid(b)) want = `slot B v${ver(b)}`
          else if (factoryOk) want = 'embedded factory v1'
          else want = 'none'
          if (want === 'none') {
            await expect(slots.select(anchor, factory)).rejects.toBeInstanceOf(SlotError)
            return
          }
          const got = await slots.select(anchor, factory)
          expect(got.label).toBe(want)
          // A slot that failed verification is now marked unbootable.
          const after = await slots.readMetadata()
          for (const [s, c] of [['A', a], ['B', b]] as const) if (c === 'corrupt' || c === 'v3-below-floor') expect(after.slots[s].priority).toBe(0)
        })
      }
    }
  }

  it('counts tries down until success, and raises the floor only after success', async () => {
    const dev = device()
    const slots = new Slots(dev, SLOT)
    await slots.writeImage('A', img(1n))
    await slots.writeImage('B', img(2n), 15)
    const anchor = new SoftwareAnchor(keys.publicKey, 0n)
    for (let i = 0; i < 7; i++) expect((await slots.select(anchor, undefined)).label).toBe('slot B v2')
    expect(await anchor.floor()).toBe(0n)
    // B never confirmed its boot: out of tries, A takes over.
    expect((await slots.select(anchor, undefined)).label).toBe('slot A v1')
    await slots.writeImage('B', img(2n), 15)
    expect((await slots.select(anchor, undefined)).label).toBe('slot B v2')
    await slots.markSuccessful('B', anchor)
    expect(await anchor.floor()).toBe(2n)
    for (let i = 0; i < 10; i++) expect((await slots.select(anchor, undefined)).label).toBe('slot B v2')
    // With the floor at 2, the v1 slot and a v1 factory image no longer verify.
    await slots.markUnbootable('B')
    await expect(slots.select(anchor, img(1n))).rejects.toThrow(/rollback/)
  })

  it('survives a torn metadata write (two copies) and resets garbage to the defaults', async () => {
    const dev = device()
    const slots = new Slots(dev, SLOT)
    await slots.writeImage('A', img(2n))
    dev.bytes.fill(0x55, 0, 512) // the first copy is garbage
    expect((await slots.readMetadata()).slots.A.priority).toBe(15)
    dev.bytes.fill(0x55, 0, 1024)
    expect(await slots.readMetadata()).toEqual(defaultMetadata())
    await expect(slots.writeImage('B', new Uint8Array(SLOT))).rejects.toBeInstanceOf(SlotError)
  })
})
