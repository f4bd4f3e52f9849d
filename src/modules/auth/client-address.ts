import { isIPv4, isIPv6 } from 'node:net';

/** A client address as the rate limits key it: dotted IPv4, or IPv6 as its eight 16-bit groups. */
export type ClientAddress = { family: 4; address: string } | { family: 6; groups: number[] };

const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const BRACKETED_IPV6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/;

/**
 * Parses `request.ip` — with TRUST_PROXY set, an entry a proxy wrote into X-Forwarded-For — into
 * the address the client controls, or `undefined` when it is not an IP address.
 *
 * - `1.2.3.4:5678` and `[2001:db8::1]:443`: the port is dropped. Some proxies (Azure Application
 *   Gateway) write the client's source port, and a client picks a new one per connection.
 * - `fe80::1%eth0`: the zone id is dropped.
 * - IPv4-mapped IPv6, `::ffff:1.2.3.4` or `::ffff:102:304`: the IPv4 address it carries.
 * - An IPv6 address with a port but without brackets cannot be told from an address
 *   (`2001:db8::1:443` is valid IPv6) and is taken as one; the /64 the limits use is the same.
 */
export function parseClientAddress(raw: string | undefined): ClientAddress | undefined {
  if (!raw) return undefined;
  let host = raw.trim();
  const bracketed = BRACKETED_IPV6.exec(host);
  const v4WithPort = bracketed ? null : IPV4_WITH_PORT.exec(host);
  const port = bracketed?.[2] ?? v4WithPort?.[2];
  if (port !== undefined && Number(port) > 65_535) return undefined;
  if (bracketed) host = bracketed[1];
  else if (v4WithPort) host = v4WithPort[1];
  if (isIPv4(host)) return bracketed ? undefined : { family: 4, address: host };

  const address = host.split('%')[0];
  if (!isIPv6(address)) return undefined;
  const groups = ipv6Groups(address.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6], groups[7]];
    return { family: 4, address: [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.') };
  }
  return { family: 6, groups };
}

/** The eight groups of a valid IPv6 address (without zone id), `::` and a dotted tail expanded. */
function ipv6Groups(address: string): number[] {
  const parts = (part: string): number[] =>
    part ? part.split(':').flatMap((g) => (g.includes('.') ? ipv4Groups(g) : [parseInt(g, 16)])) : [];
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = parts(head);
  const right = tail === undefined ? [] : parts(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipv4Groups(ipv4: string): number[] {
  const [a, b, c, d] = ipv4.split('.').map(Number);
  return [(a << 8) | b, (c << 8) | d];
}
