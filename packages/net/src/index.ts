/**
 * A TCP/IP stack in TypeScript: Ethernet, ARP, IPv4, ICMP, UDP, TCP (RFC 9293), DHCP and a DNS
 * stub, over any frame port (a virtio-net device, a test link, the host NAT).
 * @packageDocumentation
 */
export { NetMalformedError } from './errors.js'
export { internetChecksum, pseudoHeaderSum, sumWords, finishChecksum } from './checksum.js'
export { parseIpv4, formatIpv4, prefixToMask, maskToPrefix, IPV4_BROADCAST, parseMac, formatMac, macFromBytes, macToBytes, MAC_BROADCAST, randomMac } from './addr.js'
export { type EthernetFrame, EtherType, encodeEthernet, decodeEthernet, ETHERNET_HEADER } from './ethernet.js'
export { type ArpPacket, ArpOp, encodeArp, decodeArp } from './arp.js'
export { type Ipv4Packet, IpProtocol, encodeIpv4, decodeIpv4, fragmentIpv4, Reassembler, type ReassemblyLimits, type ReassemblyCounters, IPV4_HEADER } from './ipv4.js'
export { type IcmpMessage, IcmpType, IcmpUnreachableCode, encodeIcmp, decodeIcmp, echoId, echoSeq } from './icmp.js'
export { type UdpDatagram, encodeUdp, decodeUdp } from './udp.js'
export { encodeTcpSegment, decodeTcpSegment } from './tcp/segment.js'
export { TcpLayer, TcpListener, type TcpLayerOptions, type TcpConnectOptions, type TcpListenOptions } from './tcp/layer.js'
export { TcpSocket, type TcpState, type TcpSocketCounters } from './tcp/socket.js'
export { type TcpLimits, type TcpTimings, type TcpStats, defaultTcpLimits, defaultTcpTimings } from './tcp/config.js'
export { TcpConnectionResetError, TcpRefusedError, TcpTimeoutError, TcpAddressInUseError, TcpLimitError, TcpStateError } from './tcp/errors.js'
export { TcpFlag, type TcpSegment, type TcpOptions, type TcpOutput } from './tcp/types.js'
export { NetError, type NetErrorCode } from './errors.js'
export { type FramePort, CallbackFramePort } from './frame-port.js'
export { TestLink, type LinkOptions, type LinkConditions, type LinkCounters, seededRandom } from './link.js'
export { PcapWriter, readPcap, LINKTYPE_ETHERNET } from './pcap.js'
export { Stack, UdpSocket, type StackOptions, type Ipv4Config, type ArpOptions, type StackCounters, type UdpRemote } from './stack.js'
export { type DhcpMessage, type DhcpOptions, DhcpMessageType, encodeDhcp, decodeDhcp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from './dhcp-codec.js'
export { type DnsMessage, type DnsQuestion, type DnsRecord, DnsType, DnsRcode, encodeDns, decodeDns, DNS_PORT } from './dns-codec.js'
export { type NetClock, type NetTimer, realClock, VirtualClock } from './clock.js'
export { DhcpClient, DhcpServer, type DhcpLease, type DhcpClientState, type DhcpClientOptions, type DhcpServerOptions } from './dhcp.js'
export { DnsResolver, DnsResponder, type DnsResolverOptions, type DnsResponderOptions } from './dns.js'
