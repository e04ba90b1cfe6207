import { assertSendable, MailMessageError } from './mailer';

const ok = { to: 'ada.park@example.com', subject: 'Hello', text: 'Body' };

describe('assertSendable', () => {
  test.each(['ada.park@example.com', 'Ada Park <ada.park@example.com>', '"Ada" <ada@example.com>'.replace(/"/g, '')])(
    'accepts %p',
    (to) => {
      expect(() => assertSendable({ ...ok, to })).not.toThrow();
    },
  );

  test.each([
    'ada.park@example.com, mallory@example.com',
    'ada.park@example.com; mallory@example.com',
    'ada.park@example.com\r\nBcc: mallory@example.com',
    'not-an-address',
    'a@localhost',
    '',
    '<>',
  ])('refuses recipient %p', (to) => {
    expect(() => assertSendable({ ...ok, to })).toThrow(MailMessageError);
  });

  test('refuses a multi-line or empty subject', () => {
    expect(() => assertSendable({ ...ok, subject: 'Hi\r\nBcc: mallory@example.com' })).toThrow('single line');
    expect(() => assertSendable({ ...ok, subject: '  ' })).toThrow('subject is empty');
  });
});
