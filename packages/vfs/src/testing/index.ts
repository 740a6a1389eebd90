/**
 * Test tools for filesystems: the `testFS` conformance suite and the model-based property.
 * @packageDocumentation
 */
export { testFS, type TestFSOptions } from './testfs.js'
export { checkFsModel, fsModelProperty, fsOpArb, type FsOp } from './model.js'
export { treeOf } from './tree.js'
