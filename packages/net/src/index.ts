/**
 * A TCP/IP stack in TypeScript: Ethernet, ARP, IPv4, ICMP, UDP, TCP (RFC 9293), DHCP and a DNS
 * stub, over any frame port (a virtio-net device, a test link, the host NAT).
 * @packageDocumentation
 */
export { NetMalformedError } from './errors.js'
export { internetChecksum, pseudoHeaderSum, sumWords, finishChecksum } from './checksum.js'
