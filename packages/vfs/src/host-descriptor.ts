/**
 * The host file descriptor behind a `FileHandle`, when there is one: what lets a WebAssembly
 * process's worker (`@honk/proc`) read and write a host file with `pread`/`pwrite` of its own
 * instead of a round trip to the thread that owns the `FS`. Only the exact handle object the FS
 * registered answers: a wrapper that copies or spreads a handle (to count, to refuse, to
 * transform) gets a new object, so its own `read`/`write` are never bypassed.
 *
 * Registering promises that the handle's `read(p, n)` and `write(p, data)` are exactly
 * `pread`/`pwrite` of `fd` (no append mode, no transformation), and that `fd` stays open until
 * the handle's `close()` resolves.
 */
import type { FileHandle } from './types.js'

const descriptors = new WeakMap<FileHandle, number>()

/** Records that `handle` reads and writes exactly host descriptor `fd` (see above). */
export function registerHostDescriptor(handle: FileHandle, fd: number): void {
  descriptors.set(handle, fd)
}

/** The host descriptor `handle` was registered with, if that exact object was. */
export function hostDescriptorOf(handle: FileHandle): number | undefined {
  return descriptors.get(handle)
}
