/**
 * Node-only parts of `@honk/net`: sockets as `net.Socket`-compatible `Duplex` streams and the
 * host-side user-mode NAT.
 * @packageDocumentation
 */
export { TcpDuplex } from './node/duplex.js'
export { streamFramePort, dgramFramePort, type ClosableFramePort, type StreamFramePortOptions } from './node/qemu.js'
export { driveClock } from './node/testing.js'
export { UserNet, parseHostForward, type UserNetOptions, type HostForward, type UserNetCounters } from './node/nat.js'
