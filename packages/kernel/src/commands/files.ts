/** Files of the root overlay: ls, cat, cp, put, rm, mkdir. */
import { joinPath, mkdirp, readFile, splitPath, statOrUndefined, writeFile, type FS, type Stat } from '@honk/vfs'
import { defineCommand } from './command.js'
import { describeError, entryLine, shellPath, statIfPresent } from './format.js'

const decoder = new TextDecoder()

/** Writes through the overlay (so whiteouts and copy-up are honoured); it lands in the writable layer. */
async function writeWithParents(fs: FS, path: string, data: Uint8Array | string): Promise<void> {
  const [dir] = splitPath(path)
  if (dir !== '') await mkdirp(fs, dir)
  await writeFile(fs, path, data)
}

export const ls = defineCommand({
  name: 'ls',
  usage: 'ls [dir]',
  summary: 'lists a directory (sizes, <dir> for directories), or shows one file',
  group: 'files',
  async run(ctx, args) {
    const p = shellPath(args[0] ?? '.')
    try {
      const st = await ctx.fs.stat(p)
      if (st.type !== 'dir') return ctx.println(entryLine(p, st))
      for (const e of await ctx.fs.readDir(p)) {
        let est: Stat
        try {
          est = await ctx.fs.stat(p === '.' ? e.name : joinPath(p, e.name))
        } catch (err) {
          ctx.println(`ls: ${describeError(err)}`)
          continue
        }
        ctx.println(entryLine(e.name, est))
      }
    } catch (e) {
      ctx.println(`ls: ${describeError(e)}`)
    }
  },
})

export const cat = defineCommand({
  name: 'cat',
  usage: 'cat <file>',
  summary: 'prints a file',
  group: 'files',
  async run(ctx, args) {
    if (args[0] === undefined) return ctx.println('usage: cat <file>')
    const p = shellPath(args[0])
    try {
      const st = await ctx.fs.stat(p)
      if (st.type === 'dir') return ctx.println(`cat: ${p}: is a directory`)
      const bytes = await readFile(ctx.fs, p)
      const text = decoder.decode(bytes)
      ctx.out(bytes[bytes.length - 1] === 0x0a ? text : `${text}\n`)
    } catch (e) {
      ctx.println(`cat: ${describeError(e)}`)
    }
  },
})

export const cp = defineCommand({
  name: 'cp',
  usage: 'cp <src> <dst>',
  summary: 'copies a file into the writable layer (parent directories are made)',
  group: 'files',
  async run(ctx, args) {
    const [srcArg, dstArg] = args
    if (srcArg === undefined || dstArg === undefined) return ctx.println('usage: cp <src> <dst>')
    if (!ctx.host.root.writable) return ctx.println(`cp: ${ctx.readOnlyReason()}`)
    const src = shellPath(srcArg)
    const dst = shellPath(dstArg)
    if (dst === '.') return ctx.println('cp: invalid path')
    try {
      const st = await ctx.fs.stat(src)
      if (st.type === 'dir') return ctx.println(`cp: ${src}: is a directory`)
      const data = await readFile(ctx.fs, src)
      await writeWithParents(ctx.fs, dst, data)
      ctx.println(`cp: ${src} -> ${dst} (${data.length} bytes)`)
    } catch (e) {
      ctx.println(`cp: ${describeError(e)}`)
    }
  },
})

export const put = defineCommand({
  name: 'put',
  usage: 'put <key> <text>',
  summary: 'writes the text as a file into the writable layer',
  group: 'files',
  async run(ctx, args) {
    const [keyArg, ...words] = args
    if (keyArg === undefined || words.length === 0) return ctx.println('usage: put <key> <text...>')
    if (!ctx.host.root.writable) return ctx.println(`put: ${ctx.readOnlyReason()}`)
    const key = shellPath(keyArg)
    if (key === '.') return ctx.println('put: invalid key')
    try {
      await writeWithParents(ctx.fs, key, words.join(' '))
      ctx.println(`put: wrote ${key}`)
    } catch (e) {
      ctx.println(`put: ${describeError(e)}`)
    }
  },
})

export const rm = defineCommand({
  name: 'rm',
  usage: 'rm <file>',
  summary: "removes a file (or empty directory) from the writable layer; a read-only layer's copy shows through",
  group: 'files',
  async run(ctx, args) {
    if (args[0] === undefined) return ctx.println('usage: rm <file>')
    const upper = ctx.host.root.writable
    if (!upper) return ctx.println(`rm: ${ctx.readOnlyReason()}`)
    const p = shellPath(args[0])
    if (p === '.') return ctx.println('rm: invalid path')
    try {
      await ctx.fs.stat(p) // it must be visible (and a legal name) through the overlay
      const mine = await statIfPresent(upper, p)
      if (!mine) return ctx.println(`rm: ${p}: not in writable layer`)
      if (mine.type === 'dir') {
        // Through the overlay: refuses a directory that still shows entries, and hides a
        // lower directory of the same name.
        await ctx.fs.remove(p)
      } else {
        // The writable copy alone, as the Go honk's rm deleted the KV key: a copy in the
        // read-only layers below (an edited core file) shows through again.
        await upper.remove(p)
      }
      ctx.println(`rm: removed ${p}`)
      if (await statOrUndefined(ctx.fs, p)) ctx.println(`rm: ${p}: the read-only layers' copy shows through again`)
    } catch (e) {
      ctx.println(`rm: ${describeError(e)}`)
    }
  },
})

export const mkdir = defineCommand({
  name: 'mkdir',
  usage: 'mkdir <dir>',
  summary: 'makes a directory (and its parents) in the writable layer',
  group: 'files',
  async run(ctx, args) {
    if (args[0] === undefined) return ctx.println('usage: mkdir <dir>')
    if (!ctx.host.root.writable) return ctx.println(`mkdir: ${ctx.readOnlyReason()}`)
    const p = shellPath(args[0])
    if (p === '.') return ctx.println('mkdir: invalid path')
    try {
      if (await statOrUndefined(ctx.fs, p)) return ctx.println(`mkdir: ${p}: file already exists`)
      await mkdirp(ctx.fs, p)
      ctx.println(`mkdir: created ${p}`)
    } catch (e) {
      ctx.println(`mkdir: ${describeError(e)}`)
    }
  },
})
