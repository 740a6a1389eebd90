import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from './cli.js'
import { parseHonkCli, type HonkCliOptions } from './honk-cli.js'

describe('pnpm start options', () => {
  it('--display: none by default; web (any free port) or web,port=N; anything else is refused', () => {
    const display = (args: string[]) => (parseHonkCli(args, '/w') as HonkCliOptions).display
    expect(display([])).toBeUndefined()
    expect(display(['--display', 'none'])).toBeUndefined()
    expect(display(['--display', 'web'])).toEqual({ port: 0 })
    expect(display(['--display', 'web,port=5900'])).toEqual({ port: 5900 })
    for (const bad of ['vnc', 'web,port=70000', 'web,port=x', 'web,size=1']) expect(() => parseHonkCli(['--display', bad], '/w'), bad).toThrow(UsageError)
    expect(() => parseHonkCli(['--display', 'web,port=99999'], '/w')).toThrow(/port "99999" is not a TCP port/)
    expect(() => parseHonkCli(['--display', 'web,size=1'], '/w')).toThrow(/unknown option "size=1"/)
  })

  it('defaults: 4 harts, 512 MiB, .honk, a 64 MiB disk, ./share, the TypeScript SBI, interactive, user networking with 8080 → :80', () => {
    expect(parseHonkCli([], '/w')).toEqual({ harts: 4, memory: 512 << 20, state: '/w/.honk', diskSize: 64 << 20, disk: true, share: '/w/share', shareNamed: false, firmware: 'builtin', input: undefined, net: true, hostForwards: ['tcp:127.0.0.1:8080-:80'] })
  })

  it('flags change each default; a leading "--" (pnpm start -- …) is skipped', () => {
    const o = parseHonkCli(['--', '--smp', '2', '--mem', '1G', '--state', 's', '--disk-size', '16M', '--share', 'none', '--firmware', 'opensbi', '--input', 'in.txt', '--hostfwd', 'tcp::2222-:22', '--hostfwd', 'tcp:127.0.0.1:8081-10.0.2.15:80'], '/w')
    expect(o).toEqual({ harts: 2, memory: 1 << 30, state: '/w/s', diskSize: 16 << 20, disk: true, share: undefined, shareNamed: false, firmware: 'opensbi', input: '/w/in.txt', net: true, hostForwards: ['tcp::2222-:22', 'tcp:127.0.0.1:8081-10.0.2.15:80'] })
    expect(parseHonkCli(['--net', 'none'], '/w')).toMatchObject({ net: false })
    expect(parseHonkCli(['--hostfwd', 'none'], '/w')).toMatchObject({ net: true, hostForwards: [] })
    expect(() => parseHonkCli(['--net', 'tap'], '/w')).toThrow(/--net tap: user or none/)
    expect(() => parseHonkCli(['--hostfwd', '8080:80'], '/w')).toThrow(/--hostfwd 8080:80: .*hostport-/)
    expect(() => parseHonkCli(['--hostfwd', 'udp::53-:53'], '/w')).toThrow(/only tcp/)
    expect(parseHonkCli(['--no-disk'], '/w')).toMatchObject({ disk: false })
    expect(parseHonkCli(['--help'], '/w')).toBe('help')
  })

  it('reads a JSON config file (honk.json by default); flags win over it; unknown keys are errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-cli-'))
    try {
      await writeFile(join(dir, 'honk.json'), JSON.stringify({ smp: 1, mem: '256M', share: 'none' }))
      expect(parseHonkCli([], dir)).toMatchObject({ harts: 1, memory: 256 << 20, share: undefined })
      expect(parseHonkCli(['--smp', '3'], dir)).toMatchObject({ harts: 3, memory: 256 << 20 })
      await writeFile(join(dir, 'bad.json'), JSON.stringify({ cores: 2 }))
      expect(() => parseHonkCli(['--config', 'bad.json'], dir)).toThrow(/unknown key "cores"/)
      await writeFile(join(dir, 'broken.json'), '{')
      expect(() => parseHonkCli(['--config', 'broken.json'], dir)).toThrow(UsageError)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses bad values with a usage error that names them', () => {
    expect(() => parseHonkCli(['--smp', '9'], '/w')).toThrow(/--smp 9/)
    expect(() => parseHonkCli(['--firmware', 'uefi'], '/w')).toThrow(/--firmware uefi/)
    expect(() => parseHonkCli(['--mem', '32M'], '/w')).toThrow(/at least 64M/)
    expect(() => parseHonkCli(['--mem', 'lots'], '/w')).toThrow(UsageError)
    expect(() => parseHonkCli(['--bogus'], '/w')).toThrow(UsageError)
  })
})
