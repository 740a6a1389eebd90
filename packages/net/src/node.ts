/**
 * Node-only parts of `@honk/net`: sockets as `net.Socket`-compatible `Duplex` streams and the
 * host-side user-mode NAT.
 * @packageDocumentation
 */
export {}
