/** The screen: fb (the test pattern) and ui (the toolkit apps) — inventory §2.3. */
import { defineCommand } from './command.js'
import { errorMessage } from './format.js'

export const fb = defineCommand({
  name: 'fb',
  usage: 'fb',
  summary: 'paints the test pattern on the display (over the UI)',
  group: 'machine',
  async run(ctx) {
    const d = ctx.host.display
    if (!d?.surface) return ctx.println('fb: no display device')
    try {
      await d.testPattern()
    } catch (e) {
      return ctx.println(`fb: flush: ${errorMessage(e)}`)
    }
    ctx.println(`fb: ${d.width}x${d.height} test pattern flushed to scanout`)
  },
})

export const ui = defineCommand({
  name: 'ui',
  usage: 'ui [demo|status]',
  summary: 'shows the UI demo (text field + button) or the status panel on the display',
  group: 'machine',
  async run(ctx, args) {
    const d = ctx.host.display
    if (!d?.active) return ctx.println('ui: not active (needs a display + an input device)')
    const app = args[0] ?? 'demo'
    if (app !== 'demo' && app !== 'status') return ctx.println('usage: ui [demo|status]')
    await d.show(app)
    if (app === 'demo') ctx.println(`ui: active  ${d.inputs.length} input device(s)  (click the button, type into the field)`)
    else ctx.println(`ui: status panel shown  (uptime, harts, processes, network; refreshed every second)`)
  },
})
