/**
 * The 9P2000.L message set as data: one table drives encoding, decoding, the TypeScript types
 * and the round-trip property test. Field layouts follow the 9P2000.L protocol as implemented
 * by Linux `net/9p` and diod (all integers little-endian; strings are u16 length + UTF-8; a
 * qid is type[1] version[4] path[8]). R-messages are T + 1.
 */

/** Wire types of fields. */
export type FieldType =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'str'
  | 'qid'
  /** u16 count, then that many qids (Rwalk) */
  | 'qids'
  /** u16 count, then that many strings (Twalk) */
  | 'strs'
  /** u32 count, then that many bytes (Rread, Twrite, Rreaddir) */
  | 'data'

export const SCHEMA = {
  Tlerror: { type: 6, fields: [] },
  Rlerror: { type: 7, fields: [['ecode', 'u32']] },
  Tstatfs: { type: 8, fields: [['fid', 'u32']] },
  Rstatfs: {
    type: 9,
    fields: [['fsType', 'u32'], ['bsize', 'u32'], ['blocks', 'u64'], ['bfree', 'u64'], ['bavail', 'u64'], ['files', 'u64'], ['ffree', 'u64'], ['fsid', 'u64'], ['namelen', 'u32']],
  },
  Tlopen: { type: 12, fields: [['fid', 'u32'], ['flags', 'u32']] },
  Rlopen: { type: 13, fields: [['qid', 'qid'], ['iounit', 'u32']] },
  Tlcreate: { type: 14, fields: [['fid', 'u32'], ['name', 'str'], ['flags', 'u32'], ['mode', 'u32'], ['gid', 'u32']] },
  Rlcreate: { type: 15, fields: [['qid', 'qid'], ['iounit', 'u32']] },
  Tsymlink: { type: 16, fields: [['fid', 'u32'], ['name', 'str'], ['target', 'str'], ['gid', 'u32']] },
  Rsymlink: { type: 17, fields: [['qid', 'qid']] },
  Tmknod: { type: 18, fields: [['dfid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['major', 'u32'], ['minor', 'u32'], ['gid', 'u32']] },
  Rmknod: { type: 19, fields: [['qid', 'qid']] },
  Trename: { type: 20, fields: [['fid', 'u32'], ['dfid', 'u32'], ['name', 'str']] },
  Rrename: { type: 21, fields: [] },
  Treadlink: { type: 22, fields: [['fid', 'u32']] },
  Rreadlink: { type: 23, fields: [['target', 'str']] },
  Tgetattr: { type: 24, fields: [['fid', 'u32'], ['requestMask', 'u64']] },
  Rgetattr: {
    type: 25,
    fields: [
      ['valid', 'u64'], ['qid', 'qid'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['nlink', 'u64'], ['rdev', 'u64'],
      ['size', 'u64'], ['blksize', 'u64'], ['blocks', 'u64'], ['atimeSec', 'u64'], ['atimeNsec', 'u64'], ['mtimeSec', 'u64'],
      ['mtimeNsec', 'u64'], ['ctimeSec', 'u64'], ['ctimeNsec', 'u64'], ['btimeSec', 'u64'], ['btimeNsec', 'u64'], ['gen', 'u64'],
      ['dataVersion', 'u64'],
    ],
  },
  Tsetattr: {
    type: 26,
    fields: [['fid', 'u32'], ['valid', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['size', 'u64'], ['atimeSec', 'u64'], ['atimeNsec', 'u64'], ['mtimeSec', 'u64'], ['mtimeNsec', 'u64']],
  },
  Rsetattr: { type: 27, fields: [] },
  Txattrwalk: { type: 30, fields: [['fid', 'u32'], ['newfid', 'u32'], ['name', 'str']] },
  Rxattrwalk: { type: 31, fields: [['size', 'u64']] },
  Txattrcreate: { type: 32, fields: [['fid', 'u32'], ['name', 'str'], ['attrSize', 'u64'], ['flags', 'u32']] },
  Rxattrcreate: { type: 33, fields: [] },
  Treaddir: { type: 40, fields: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']] },
  Rreaddir: { type: 41, fields: [['data', 'data']] },
  // Linux sends fid and datasync ("dd" in net/9p/client.c); older peers send only the fid.
  Tfsync: { type: 50, fields: [['fid', 'u32'], ['datasync', 'u32']] },
  Rfsync: { type: 51, fields: [] },
  Tlock: { type: 52, fields: [['fid', 'u32'], ['lockType', 'u8'], ['flags', 'u32'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']] },
  Rlock: { type: 53, fields: [['status', 'u8']] },
  Tgetlock: { type: 54, fields: [['fid', 'u32'], ['lockType', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']] },
  Rgetlock: { type: 55, fields: [['lockType', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']] },
  Tlink: { type: 70, fields: [['dfid', 'u32'], ['fid', 'u32'], ['name', 'str']] },
  Rlink: { type: 71, fields: [] },
  Tmkdir: { type: 72, fields: [['dfid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['gid', 'u32']] },
  Rmkdir: { type: 73, fields: [['qid', 'qid']] },
  Trenameat: { type: 74, fields: [['olddirfid', 'u32'], ['oldname', 'str'], ['newdirfid', 'u32'], ['newname', 'str']] },
  Rrenameat: { type: 75, fields: [] },
  Tunlinkat: { type: 76, fields: [['dirfid', 'u32'], ['name', 'str'], ['flags', 'u32']] },
  Runlinkat: { type: 77, fields: [] },
  Tversion: { type: 100, fields: [['msize', 'u32'], ['version', 'str']] },
  Rversion: { type: 101, fields: [['msize', 'u32'], ['version', 'str']] },
  Tauth: { type: 102, fields: [['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']] },
  Rauth: { type: 103, fields: [['aqid', 'qid']] },
  Tattach: { type: 104, fields: [['fid', 'u32'], ['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']] },
  Rattach: { type: 105, fields: [['qid', 'qid']] },
  Tflush: { type: 108, fields: [['oldtag', 'u16']] },
  Rflush: { type: 109, fields: [] },
  Twalk: { type: 110, fields: [['fid', 'u32'], ['newfid', 'u32'], ['wnames', 'strs']] },
  Rwalk: { type: 111, fields: [['wqids', 'qids']] },
  Tread: { type: 116, fields: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']] },
  Rread: { type: 117, fields: [['data', 'data']] },
  Twrite: { type: 118, fields: [['fid', 'u32'], ['offset', 'u64'], ['data', 'data']] },
  Rwrite: { type: 119, fields: [['count', 'u32']] },
  Tclunk: { type: 120, fields: [['fid', 'u32']] },
  Rclunk: { type: 121, fields: [] },
  Tremove: { type: 122, fields: [['fid', 'u32']] },
  Rremove: { type: 123, fields: [] },
} as const satisfies Record<string, { type: number; fields: readonly (readonly [string, FieldType])[] }>

export type MessageName = keyof typeof SCHEMA

/** A qid: the server's unique id of a file. `type` bit 0x80 = directory, 0x02 = symlink. */
export interface Qid {
  type: number
  version: number
  path: bigint
}

/** The TypeScript type a field of a given wire type decodes to. */
export type FieldValue<T extends FieldType> = T extends 'u8' | 'u16' | 'u32'
  ? number
  : T extends 'u64'
    ? bigint
    : T extends 'str'
      ? string
      : T extends 'qid'
        ? Qid
        : T extends 'qids'
          ? Qid[]
          : T extends 'strs'
            ? string[]
            : Uint8Array

/** The fields of a {@link SCHEMA} row (`[name, type]` pairs) as an object type. */
export type MessageFields<F> = F extends readonly [] ? {} : F extends readonly [readonly [infer K extends string, infer T extends FieldType], ...infer Rest] ? { [P in K]: FieldValue<T> } & MessageFields<Rest> : never

/** The message of a given name, with its tag (one flat object type, not an intersection). */
export type MessageOf<N extends MessageName> = {
  [K in keyof ({ kind: N; tag: number } & MessageFields<(typeof SCHEMA)[N]['fields']>)]: ({ kind: N; tag: number } & MessageFields<(typeof SCHEMA)[N]['fields']>)[K]
}

/** Any 9P2000.L message. */
export type Message = { [N in MessageName]: MessageOf<N> }[MessageName]

/** T-messages (requests) and R-messages (replies). */
export type TMessage = Extract<Message, { kind: `T${string}` }>
export type RMessage = Extract<Message, { kind: `R${string}` }>

/** Message name by type number. */
export const NAME_OF_TYPE: ReadonlyMap<number, MessageName> = new Map(Object.entries(SCHEMA).map(([name, s]) => [s.type, name as MessageName]))

/** The tag of Tversion/Rversion. */
export const NOTAG = 0xffff
/** "No fid" (Tattach's afid without authentication). */
export const NOFID = 0xffffffff
/** Header: size[4] type[1] tag[2]. */
export const HEADER_SIZE = 7
/** Twalk carries at most this many names (9P2000 walk(5)). */
export const MAXWELEM = 16

/** qid.type bits. */
export const QTDIR = 0x80
export const QTSYMLINK = 0x02
export const QTFILE = 0x00

/** Tgetattr request mask bits (P9_GETATTR_*). */
export const GETATTR_BASIC = 0x7ffn
export const GETATTR_ALL = 0x3fffn
/** Tsetattr valid bits (P9_SETATTR_*). */
export const SETATTR = { MODE: 0x1, UID: 0x2, GID: 0x4, SIZE: 0x8, ATIME: 0x10, MTIME: 0x20, CTIME: 0x40, ATIME_SET: 0x80, MTIME_SET: 0x100 } as const
/** Tunlinkat flag: remove a directory (AT_REMOVEDIR). */
export const AT_REMOVEDIR = 0x200
