/**
 * 9P2000.L for honk: a codec for the whole message set, transports, and a session client.
 *
 * @example
 * ```ts
 * import { encode, decode } from '@honk/p9'
 * const bytes = encode({ kind: 'Tversion', tag: 0xffff, msize: 65536, version: '9P2000.L' })
 * const msg = decode(bytes)            // { kind: 'Tversion', tag: 65535, msize: 65536, version: '9P2000.L' }
 * ```
 * @packageDocumentation
 */
export { Framer, decode, decodeDirents, direntSize, encode, encodeDirents, type Dirent } from './codec.js'
export { ERRNO, P9ProtocolError, P9RemoteError, errnoName, type ErrnoName } from './errors.js'
export {
  AT_REMOVEDIR,
  GETATTR_ALL,
  GETATTR_BASIC,
  HEADER_SIZE,
  MAXWELEM,
  NOFID,
  NOTAG,
  QTDIR,
  QTFILE,
  QTSYMLINK,
  SCHEMA,
  SETATTR,
  type FieldType,
  type FieldValue,
  type Message,
  type MessageFields,
  type MessageName,
  type MessageOf,
  type Qid,
  type RMessage,
  type TMessage,
} from './schema.js'
export { O, Session, split, type ReplyOf, type RequestBody, type SessionOptions } from './session.js'
export { loopbackTransport, type Transport } from './transport.js'
export { Connection, qidOf, serve, type ServerOptions } from './server.js'
export { mount, type MountOptions } from './mount.js'
export {
  virtioMountTag,
  virtioTransport,
  type P9DmaAllocator,
  type P9GuestMemory,
  type P9VirtioDriver,
  type P9Virtqueue,
  type P9VirtqueueSegment,
  type VirtioTransportOptions,
} from './virtio.js'
