/**
 * Builds the factory core image (security version 1) from `core/` into `build/factory.img`,
 * signed with the development key. Deterministic: the same sources give the same bytes.
 *
 *   node --conditions=@honk/source --import tsx scripts/build-factory.ts
 */
import { relative } from 'node:path'
import { CORE_DIR, FACTORY_IMAGE_PATH, FACTORY_VERSION, coreFiles, writeFactoryImage } from '../src/factory-core.ts'

const image = writeFactoryImage()
const files = Object.keys(coreFiles()).length
const rel = (p: string) => relative(process.cwd(), p) || '.'
console.log(`build-factory: ${rel(CORE_DIR)} -> ${rel(FACTORY_IMAGE_PATH)} (${files} files, ${image.length} bytes, version ${FACTORY_VERSION})`)
