import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { roles, type Caller, type Role } from './identity.ts';
import { unauthorized } from './errors.ts';

/**
 * Access tokens: Ed25519-signed JWTs. The user service alone holds the private key;
 * the gateway verifies with the public key, pinning the algorithm and checking
 * issuer, audience and expiry, so a token from anywhere else is refused.
 */
export const tokenAlgorithm = 'EdDSA';

export interface TokenSettings {
  issuer: string;
  audience: string;
}

export function loadPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`JWT private key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

export function loadPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`JWT public key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

export function generateTokenKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export async function signAccessToken(caller: Caller, key: KeyObject, settings: TokenSettings & { ttlSeconds: number }): Promise<string> {
  return new SignJWT({ email: caller.email, role: caller.role })
    .setProtectedHeader({ alg: tokenAlgorithm, typ: 'JWT' })
    .setSubject(caller.id)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(`${settings.ttlSeconds}s`)
    .sign(key);
}

export async function verifyAccessToken(token: string, key: KeyObject, settings: TokenSettings): Promise<Caller> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [tokenAlgorithm], issuer: settings.issuer, audience: settings.audience, requiredClaims: ['sub', 'exp'] });
    const { sub, email, role } = payload;
    if (typeof sub !== 'string' || typeof email !== 'string' || typeof role !== 'string' || !(roles as readonly string[]).includes(role)) {
      throw unauthorized('malformed access token', 'INVALID_TOKEN');
    }
    return { id: sub, email, role: role as Role };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw unauthorized('access token expired', 'TOKEN_EXPIRED');
    if (error instanceof joseErrors.JOSEError) throw unauthorized('invalid access token', 'INVALID_TOKEN');
    throw error;
  }
}
