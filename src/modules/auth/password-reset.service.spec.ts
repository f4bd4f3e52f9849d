import { mailFailure } from './password-reset.service.js';

describe('mailFailure (what the log keeps of a failed send)', () => {
  it.each([
    ['550 5.1.1 <leila@example.com>: Recipient address rejected', '550 5.1.1 <[address]>: Recipient address rejected'],
    ["550 5.1.1 <o'brien@example.com>: User unknown", '550 5.1.1 <[address]>: User unknown'],
    ['550 5.1.1 <"john smith"@example.com>: User unknown', '550 5.1.1 <[address]>: User unknown'],
    ["Can't send mail - all recipients were rejected: 550 a.b+tag@example.com", "Can't send mail - all recipients were rejected: 550 [address]"],
    // Found by mutation testing: only the first address of a reply was ever checked (the pattern without its g flag passed).
    ['550 5.1.1 <leila@example.com>: Recipient leila@example.com not found', '550 5.1.1 <[address]>: Recipient [address] not found'],
    ['Connection timeout', 'Connection timeout'],
  ])('keeps no address of %j', (message, logged) => {
    expect(mailFailure(Object.assign(new Error(message), { code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' }))).toEqual({
      code: 'EENVELOPE',
      responseCode: 550,
      command: 'RCPT TO',
      message: logged,
    });
  });
});
