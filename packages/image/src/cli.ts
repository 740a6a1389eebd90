#!/usr/bin/env node
/**
 * honk-mkimage: keygen, build, verify, inspect.
 *
 *   honk-mkimage keygen <key-file>                 writes the secret key (hex) and <key-file>.pub
 *   honk-mkimage build <dir> <out> --key <key-file> [--version N] [--compatible S]
 *   honk-mkimage verify <img> --pub <pub-file> [--floor N] [--compatible S]
 *   honk-mkimage inspect <img>
 */
import { readFile, writeFile } from 'node:fs/promises'
import { SoftwareAnchor, buildImage, decodeHeader, fromHex, generateKeyPair, toHex, verifyImage } from './index.js'
import { BLOCK } from './verity.js'
import { entriesFromDirectory, nodeHasher } from './node.js'

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

async function readKey(path: string): Promise<Uint8Array> {
  return fromHex((await readFile(path, 'utf8')).trim())
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv
  switch (cmd) {
    case 'keygen': {
      const out = args[0]
      if (!out) break
      const k = generateKeyPair()
      await writeFile(out, toHex(k.secretKey) + '\n', { mode: 0o600 })
      await writeFile(out + '.pub', toHex(k.publicKey) + '\n')
      console.log(`mkimage: wrote ${out} (secret) and ${out}.pub (public ${toHex(k.publicKey)})`)
      return 0
    }
    case 'build': {
      const [dir, out] = args
      const keyFile = flag(args, '--key')
      if (!dir || !out || !keyFile) break
      const entries = await entriesFromDirectory(dir)
      const count = Object.values(entries).filter((e) => e.type !== 'dir').length
      if (count === 0) {
        console.error(`mkimage: ${dir} holds no files`)
        return 1
      }
      const version = BigInt(flag(args, '--version') ?? '1')
      const compatible = flag(args, '--compatible')
      const img = buildImage(entries, { secVersion: version, secretKey: await readKey(keyFile), hasher: nodeHasher, ...(compatible ? { compatible } : {}) })
      await writeFile(out, img)
      console.log(`mkimage: ${dir} -> ${out} (${count} files, ${img.length} bytes, version ${version})`)
      return 0
    }
    case 'verify': {
      const [file] = args
      const pub = flag(args, '--pub')
      if (!file || !pub) break
      const compatible = flag(args, '--compatible')
      const anchor = new SoftwareAnchor(await readKey(pub), BigInt(flag(args, '--floor') ?? '0'))
      try {
        const v = await verifyImage(new Uint8Array(await readFile(file)), anchor, { hasher: nodeHasher, ...(compatible ? { compatible } : {}) })
        console.log(`mkimage: ${file} verified: version ${v.secVersion}, ${v.entries.length} entries, root ${v.root}`)
        return 0
      } catch (e) {
        console.error(`mkimage: ${file}: ${(e as Error).message}`)
        return 1
      }
    }
    case 'inspect': {
      const [file] = args
      if (!file) break
      const img = new Uint8Array(await readFile(file))
      const h = decodeHeader(img.subarray(img.length - BLOCK))
      console.log(
        [
          `version        ${h.secVersion}`,
          `compatible     ${h.compatible}`,
          `files          ${h.fileCount} (table ${h.tableBytes} bytes)`,
          `data           ${h.dataBlocks} blocks (${h.dataBytes} bytes used)`,
          `hash tree      ${h.treeBlocks} blocks at byte ${h.dataBlocks * BLOCK + BLOCK} (verity superblock at ${h.dataBlocks * BLOCK})`,
          `salt           ${toHex(h.salt)}`,
          `root hash      ${toHex(h.root)}`,
          `veritysetup    veritysetup verify ${file} ${file} ${toHex(h.root)} --data-blocks=${h.dataBlocks} --hash-offset=${h.dataBlocks * BLOCK}`,
        ].join('\n'),
      )
      return 0
    }
  }
  console.error('usage: honk-mkimage keygen <key> | build <dir> <out> --key <key> [--version N] [--compatible S] | verify <img> --pub <pub> [--floor N] | inspect <img>')
  return 2
}

process.exitCode = await main(process.argv.slice(2))
