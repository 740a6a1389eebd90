import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'

// @noble/ed25519's synchronous API needs a SHA-512 (it ships none of its own).
ed.hashes.sha512 = sha512

/** An ed25519 key pair (32-byte secret seed, 32-byte public key). */
export interface KeyPair {
  secretKey: Uint8Array
  publicKey: Uint8Array
}

/** A fresh random key pair, or the one derived from a 32-byte `seed` (reproducible builds/tests). */
export function generateKeyPair(seed?: Uint8Array): KeyPair {
  const secretKey = seed ? seed.slice() : ed.utils.randomSecretKey()
  if (secretKey.length !== 32) throw new RangeError(`an ed25519 seed is 32 bytes, got ${secretKey.length}`)
  return { secretKey, publicKey: ed.getPublicKey(secretKey) }
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed.sign(message, secretKey)
}

/** Never throws: a malformed key or signature is simply not valid. */
export function verifySignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey)
  } catch {
    return false
  }
}
