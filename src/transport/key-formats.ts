// Private keys in the PKCS#8 form ("BEGIN [ENCRYPTED] PRIVATE KEY", what
// `ssh-keygen -m PKCS8` and openssl write), which ssh2's parser does not read:
// Node's crypto decrypts and reads them, and hands ssh2 a form it does read
// (PKCS#1 for RSA, SEC1 for ECDSA, the OpenSSH container for Ed25519).
import { createPrivateKey, randomBytes } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

const PKCS8 = /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/;

export function isPkcs8(text: string): boolean {
  return PKCS8.test(text);
}

/** A private key file's content in any form we read (OpenSSH, PEM, PKCS#8); an Error says why not. */
export function parsePrivateKey(data: Buffer, passphrase: string | undefined): ParsedKey | ParsedKey[] | Error {
  const text = data.toString('latin1');
  if (!isPkcs8(text)) return ssh2.utils.parseKey(data, passphrase);
  try {
    return ssh2.utils.parseKey(fromPkcs8(text, passphrase));
  } catch (err) {
    return err as Error;
  }
}

/** The key as text ssh2 parses; throws with crypto's reason (wrong passphrase, unsupported type). */
export function fromPkcs8(text: string, passphrase: string | undefined): string {
  const encrypted = /BEGIN ENCRYPTED PRIVATE KEY/.test(text);
  if (encrypted && !passphrase) throw new Error('encrypted and no passphrase was given');
  const key = createPrivateKey(encrypted ? { key: text, format: 'pem', passphrase } : { key: text, format: 'pem' });
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.export({ format: 'pem', type: 'pkcs1' }) as string;
    case 'ec':
      return key.export({ format: 'pem', type: 'sec1' }) as string;
    case 'ed25519': {
      const jwk = key.export({ format: 'jwk' });
      return opensshEd25519(Buffer.from(jwk.d!, 'base64url'), Buffer.from(jwk.x!, 'base64url'));
    }
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`);
  }
}

const str = (b: Buffer | string): Buffer => {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};

/** An unencrypted OpenSSH private key container (PROTOCOL.key) for one Ed25519 key; it never leaves memory. */
function opensshEd25519(seed: Buffer, pub: Buffer): string {
  const pubBlob = Buffer.concat([str('ssh-ed25519'), str(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, str('ssh-ed25519'), str(pub), str(Buffer.concat([seed, pub])), str('')]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), str('none'), str('none'), str(''), count, str(pubBlob), str(priv)]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}
