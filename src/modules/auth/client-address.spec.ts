import { parseClientAddress } from './client-address.js';

const v4 = (address: string) => ({ family: 4, address });
const v6 = (...groups: number[]) => ({ family: 6, groups });

describe('parseClientAddress', () => {
  it.each([
    // IPv4, with and without the port a proxy may write next to it
    ['203.0.113.7', v4('203.0.113.7')],
    ['203.0.113.7:5678', v4('203.0.113.7')],
    ['203.0.113.7:0', v4('203.0.113.7')],
    ['203.0.113.7:65535', v4('203.0.113.7')],
    [' 203.0.113.7 ', v4('203.0.113.7')],
    // IPv6, bracketed with a port, zone ids
    ['2001:db8::1', v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['2001:DB8::1', v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['[2001:db8::1]:443', v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['[2001:db8::1]', v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['2001:0db8:0001:0002:0003:0004:0005:0006', v6(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)],
    ['fe80::1%eth0', v6(0xfe80, 0, 0, 0, 0, 0, 0, 1)],
    ['fe80::1%25eth0', v6(0xfe80, 0, 0, 0, 0, 0, 0, 1)],
    ['[fe80::1%eth0]:443', v6(0xfe80, 0, 0, 0, 0, 0, 0, 1)],
    ['::1', v6(0, 0, 0, 0, 0, 0, 0, 1)],
    ['[::1]:8080', v6(0, 0, 0, 0, 0, 0, 0, 1)],
    ['::', v6(0, 0, 0, 0, 0, 0, 0, 0)],
    // an embedded IPv4 that is not IPv4-mapped stays IPv6 (NAT64, the deprecated IPv4-compatible form)
    ['64:ff9b::10.0.0.1', v6(0x64, 0xff9b, 0, 0, 0, 0, 0x0a00, 1)],
    ['::10.0.0.1', v6(0, 0, 0, 0, 0, 0, 0x0a00, 1)],
    ['::ffff:0:10.0.0.1', v6(0, 0, 0, 0, 0xffff, 0, 0x0a00, 1)],
    // IPv4-mapped IPv6, dotted and hex, any spelling: the IPv4 address
    ['::ffff:1.2.3.4', v4('1.2.3.4')],
    ['::FFFF:1.2.3.4', v4('1.2.3.4')],
    ['::ffff:7f00:1', v4('127.0.0.1')],
    ['::ffff:a00:1', v4('10.0.0.1')],
    ['::ffff:cb00:7107', v4('203.0.113.7')],
    ['::ffff:ffff:ffff', v4('255.255.255.255')],
    ['::ffff:0:0', v4('0.0.0.0')],
    ['0:0:0:0:0:ffff:cb00:7107', v4('203.0.113.7')],
    ['0000:0000:0000:0000:0000:ffff:203.0.113.7', v4('203.0.113.7')],
    ['[::ffff:203.0.113.7]:443', v4('203.0.113.7')],
    ['[::ffff:cb00:7107]:443', v4('203.0.113.7')],
  ])('%j → %j', (raw, parsed) => {
    expect(parseClientAddress(raw)).toEqual(parsed);
  });

  it('an IPv6 address with a port but no brackets is an address (the ambiguity is in the syntax)', () => {
    expect(parseClientAddress('2001:db8::1:443')).toEqual(v6(0x2001, 0xdb8, 0, 0, 0, 0, 1, 0x443));
  });

  it.each([
    [undefined],
    [''],
    ['   '],
    ['unknown'],
    ['proxy.internal'],
    ['203.0.113'],
    ['203.0.113.256'],
    ['010.0.113.7'],
    ['203.0.113.7:'],
    ['203.0.113.7:65536'],
    ['203.0.113.7:99999'],
    ['203.0.113.7:http'],
    ['203.0.113.7:80:80'],
    ['203.0.113.7, 198.51.100.1'],
    ['[203.0.113.7]:80'],
    ['[2001:db8::1'],
    ['2001:db8::1]:443'],
    ['[2001:db8::1]:'],
    ['[2001:db8::1]:65536'],
    ['[2001:db8::1]443'],
    ['[[2001:db8::1]]:443'],
    ['2001:db8::1::2'],
    ['2001:db8:1:2:3:4:5:6:443'],
    ['2001:db8::g'],
    ['%eth0'],
    [':::'],
  ])('%j is not an IP address', (raw) => {
    expect(parseClientAddress(raw)).toBeUndefined();
  });
});
