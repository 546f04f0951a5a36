// The gateway's own access-token check, used only to decide whether a signed-in request may be answered
// from the shared response cache. It makes the same checks as common.auth (common/common/auth/tokens.py):
//   1. header: alg exactly RS256, a kid the accounts JWKS publishes, no `crit`;
//   2. RS256 signature (jose, key from the JWKS fetched over HTTP and cached);
//   3. claims: exp/nbf/iat with the same leeway, iss and aud equal to the settings, typ == "access",
//      sub a UUID, sid/jti non-empty strings, roles/perms lists of strings, staff a boolean;
//   4. state in the shared Redis registry (common/common/auth/registry.py), one round trip: the session
//      is alive and belongs to sub, the user is not marked inactive, the jti is not revoked. A result is
//      reused for at most `stateCacheMs` (<= 1 s), so a logout or deactivation is seen within a second.
// Any doubt is a refusal (fail closed): a Redis error, an unreachable JWKS, an unknown kid. A refused
// token is simply not served from the cache; the subgraphs then verify it themselves and answer
// UNAUTHENTICATED, exactly as without this module.
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BEARER = /^Bearer\s+(\S+)$/i;
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'jti', 'typ', 'sid'];
const MAX_TOKEN_LENGTH = 8192;
export const MAX_STATE_CACHE_MS = 1000;
const FINAL_FAILURES = [errors.JWSSignatureVerificationFailed, errors.JWSInvalid, errors.JWTInvalid, errors.JWTExpired];

// Key names of common/common/auth/registry.py (prefix `auth:`).
export const registryKeys = {
  session: (sid) => `auth:session:${sid}`,
  userInactive: (uid) => `auth:user:${uid}:inactive`,
  revoked: (jti) => `auth:revoked:${jti}`,
};

const isStringList = (value) => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** A small map that forgets everything when full (enough for a bounded, short-lived cache). */
class BoundedMap extends Map {
  constructor(limit) {
    super();
    this.limit = limit;
  }

  set(key, value) {
    if (this.size >= this.limit && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}

function claimsOf(payload) {
  if (payload.typ !== 'access') return null;
  if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) return null;
  const { sid, jti } = payload;
  if (typeof sid !== 'string' || !sid || typeof jti !== 'string' || !jti) return null;
  const roles = payload.roles ?? [];
  const perms = payload.perms ?? [];
  const staff = payload.staff ?? false;
  if (!isStringList(roles) || !isStringList(perms) || typeof staff !== 'boolean') return null;
  if (payload.email !== undefined && typeof payload.email !== 'string') return null;
  return { userId: payload.sub.toLowerCase(), sessionId: sid, tokenId: jti, staff, expiresAt: payload.exp };
}

/**
 * createTokenChecker({ jwksUrl, issuer, audience, leewaySeconds, redis, stateCacheMs }) -> { check(header), stats }
 * check(authorizationHeader) resolves to { ok: true, staff, userId } or { ok: false, reason }; it never throws.
 */
export function createTokenChecker({
  jwksUrl,
  issuer,
  audience,
  leewaySeconds = 10,
  redis,
  stateCacheMs = 500,
  maxEntries = 10_000,
  jwks = createRemoteJWKSet(new URL(jwksUrl), {
    timeoutDuration: 3000,
    cooldownDuration: 10_000, // unknown kids refetch at most this often (AUTH_JWKS_MIN_REFRESH_SECONDS)
    cacheMaxAge: 300_000, // AUTH_JWKS_MAX_AGE_SECONDS
  }),
}) {
  const stateTtl = Math.max(0, Math.min(stateCacheMs, MAX_STATE_CACHE_MS));
  // A signature verified once stays verified: token text -> claims (exp is re-checked on every use).
  const verified = new BoundedMap(maxEntries);
  // (sid, sub, jti) -> { until, reason }: registry answers, reused for a fraction of a second.
  const states = new BoundedMap(maxEntries);
  const stats = { checked: 0, accepted: 0, refused: 0, registryErrors: 0, signatureVerifications: 0 };
  // Fetch the keys now, so the first signed-in requests do not wait for (or fail closed on) that fetch.
  if (typeof jwks.reload === 'function') jwks.reload().catch(() => {});

  async function claimsFor(token) {
    const known = verified.get(token);
    if (known !== undefined) return known;
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return null;
    }
    if (header.alg !== 'RS256' || 'crit' in header || typeof header.kid !== 'string' || !header.kid || header.kid.length > 200) {
      verified.set(token, null);
      return null;
    }
    stats.signatureVerifications += 1;
    try {
      const { payload } = await jwtVerify(token, jwks, {
        algorithms: ['RS256'],
        issuer,
        audience,
        clockTolerance: leewaySeconds,
        requiredClaims: REQUIRED_CLAIMS,
      });
      const claims = claimsOf(payload);
      verified.set(token, claims);
      return claims;
    } catch (error) {
      // Remember only verdicts that can never change: a bad signature, a malformed or expired token.
      // An unreachable JWKS, an unknown kid (a key rotated in later) or a future nbf may pass later.
      if (FINAL_FAILURES.some((kind) => error instanceof kind)) verified.set(token, null);
      return null;
    }
  }

  async function registryState({ sessionId, userId, tokenId }) {
    const key = `${sessionId}\u0000${userId}\u0000${tokenId}`;
    const now = Date.now();
    const cached = states.get(key);
    if (cached !== undefined && cached.until > now) return cached.reason;
    const replies = await redis
      .pipeline()
      .get(registryKeys.session(sessionId))
      .exists(registryKeys.userInactive(userId))
      .exists(registryKeys.revoked(tokenId))
      .exec();
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
    const [[, owner], [, inactive], [, revoked]] = replies;
    let reason = null;
    if (owner === null) reason = 'session ended';
    else if (owner !== userId) reason = 'session belongs to another user';
    else if (inactive) reason = 'user inactive';
    else if (revoked) reason = 'token revoked';
    if (stateTtl > 0) states.set(key, { until: now + stateTtl, reason });
    return reason;
  }

  function refuse(reason) {
    stats.refused += 1;
    return { ok: false, reason };
  }

  async function check(header) {
    stats.checked += 1;
    const match = typeof header === 'string' && header.length <= MAX_TOKEN_LENGTH + 7 ? BEARER.exec(header.trim()) : null;
    if (!match) return refuse('not a bearer token');
    const token = match[1];
    const claims = await claimsFor(token);
    if (!claims) return refuse('invalid token');
    // Expiry again on every use: the claims were cached when the token was still good.
    if (Date.now() / 1000 > claims.expiresAt + leewaySeconds) return refuse('expired');
    let reason;
    try {
      reason = await registryState(claims);
    } catch {
      stats.registryErrors += 1;
      return refuse('registry unavailable'); // fail closed
    }
    if (reason !== null) return refuse(reason);
    stats.accepted += 1;
    return { ok: true, staff: claims.staff, userId: claims.userId };
  }

  return { check, stats };
}
