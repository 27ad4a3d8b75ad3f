// The environ rule of issue 20 (src/scan/java-environ.ts): every variable
// stays, secret values are replaced whole, NUL separators stay.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretName, redactEnviron, REDACTED_VALUE } from '../../src/scan/java-environ.js';

const env = (...items: string[]): Buffer => Buffer.from(`${items.join('\0')}\0`, 'latin1');
const items = (b: Buffer): string[] => b.toString('latin1').split('\0');

describe('JVM environ redaction', () => {
  it('names holding a secret word, in any case, or ending in _KEY/_PASS lose their whole value', () => {
    const secret = [
      'DB_PASSWORD', 'db_password', 'MYSQL_PASSWD', 'client_secret', 'GITHUB_TOKEN', 'AwsSessionToken', 'GOOGLE_APPLICATION_CREDENTIALS',
      'X_API_KEY', 'STRIPE_APIKEY', 'PRIVATE_DATA', 'cookie_jar', 'JSESSIONID_SESSION', 'AUTH_HEADER', 'OAUTH_CLIENT', 'AWS_SECRET_ACCESS_KEY',
      'SIGNING_KEY', 'smtp_pass', 'Ldap_Pass',
    ];
    for (const name of secret) assert.ok(isSecretName(name), name);
    for (const name of ['JAVA_HOME', 'PATH', 'JAVA_OPTS', 'HOME', 'LANG', 'KEYBOARD', 'PASSAGE', 'KEY_ID', 'MONKEY', 'HOSTNAME']) assert.ok(!isSecretName(name), name);
  });

  it('keeps every variable and the NUL separators; only secret values change, whole', () => {
    const input = env(
      'JAVA_HOME=/usr/lib/jvm/java-17',
      'DB_PASSWORD=s3cr3t=with=equals',
      'api_token=tok-123',
      'DATABASE_URL=jdbc:postgresql://app:pa55@db.example:5432/x?ssl=true',
      'MIRROR=https://mirror.example/path',
      'PROXY=http://user@proxy:3128',
      'JAVA_OPTS=-Xmx1g -Dspring.datasource.url=mysql://root:hunter2@db/app',
      'EMPTY_SECRET=',
      'weird-item-without-equals',
    );
    const out = redactEnviron(input);
    assert.deepEqual(items(out), [
      'JAVA_HOME=/usr/lib/jvm/java-17',
      `DB_PASSWORD=${REDACTED_VALUE}`,
      `api_token=${REDACTED_VALUE}`,
      `DATABASE_URL=${REDACTED_VALUE}`,
      'MIRROR=https://mirror.example/path',
      'PROXY=http://user@proxy:3128',
      `JAVA_OPTS=${REDACTED_VALUE}`,
      `EMPTY_SECRET=${REDACTED_VALUE}`,
      'weird-item-without-equals',
      '',
    ]);
    for (const s of ['s3cr3t', 'tok-123', 'pa55', 'hunter2']) assert.ok(!out.includes(s), s);
    assert.equal(out.filter((b) => b === 0).length, input.filter((b) => b === 0).length, 'as many NULs as before');
  });

  it('a credentials URL in an item without a name goes too; bytes that are no secret come back byte for byte', () => {
    const raw = Buffer.concat([Buffer.from('LANG=de_DE.\xe4\xff\0', 'latin1'), Buffer.from('ftp://u:p@h/\0', 'latin1')]);
    const out = redactEnviron(raw);
    assert.deepEqual(out.subarray(0, 14), raw.subarray(0, 14));
    assert.deepEqual(items(out), ['LANG=de_DE.\xe4\xff', REDACTED_VALUE, '']);
  });

  it('linear time on what a target may send: megabytes of letters, of :// and of :', () => {
    for (const v of ['x'.repeat(4 << 20), 'a://'.repeat(1 << 20), `a://${':'.repeat(4 << 20)}`]) {
      const t = performance.now();
      redactEnviron(Buffer.from(`V=${v}\0`, 'latin1'));
      assert.ok(performance.now() - t < 5000, `${v.slice(0, 8)}...: ${Math.round(performance.now() - t)} ms`);
    }
  });

  it('an entry cut at its cap: a last value holding :// goes, even before its @ arrived', () => {
    const cut = Buffer.from('A=1\0URL=postgres://app:pa', 'latin1');
    assert.deepEqual(items(redactEnviron(cut, true)), ['A=1', `URL=${REDACTED_VALUE}`]);
    assert.deepEqual(items(redactEnviron(cut, false)), ['A=1', 'URL=postgres://app:pa'], 'whole entries are judged by the rule alone');
  });
});
