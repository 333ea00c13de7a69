// TEST CONFIGURATION, written by authloop for its integration tests: not part
// of oidc-provider, and not an implementation anybody should deploy.
//
// oidc-provider 9.13.3 has no RFC 8693 token exchange and no JWT bearer
// grant (RFC 7523 §2.1). It lets a configuration add grant types
// (provider.registerGrantType), and this file adds the two halves of
// enterprise-managed authorization (the Identity Assertion JWT
// Authorization Grant, "ID-JAG", of the MCP authorization extensions) with
// it, so that authloop's IdentityAssertion runs against a real server's
// client authentication, ID token validation, token storage, userinfo and
// introspection:
//
//   1. the identity provider's token exchange
//      (grant_type urn:ietf:params:oauth:grant-type:token-exchange):
//      an ID token that this provider issued to the requesting client
//      (subject_token_type ...:id_token) is exchanged for an ID-JAG
//      (requested_token_type ...:id-jag) for an authorization server named
//      by `audience`;
//   2. the authorization server's JWT bearer grant
//      (grant_type urn:ietf:params:oauth:grant-type:jwt-bearer): an ID-JAG
//      is exchanged for an access token of the person it names.
//
// The same provider plays both parts (the only audience it issues ID-JAGs
// for is its own issuer). The ID-JAGs are ES256 JWTs (typ
// oauth-id-jag+jwt) signed with a key made at start, known only to this
// process. Which client of the authorization server an identity provider
// client's ID-JAGs are for is the table `agents` below.

import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';

import { errors } from 'oidc-provider';

export const grantTokenExchange = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const grantJWTBearer = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const tokenTypeIDToken = 'urn:ietf:params:oauth:token-type:id_token';
const tokenTypeIDJAG = 'urn:ietf:params:oauth:token-type:id-jag';
const typIDJAG = 'oauth-id-jag+jwt';
const idjagTTL = 300; // seconds

// The clients of the test: the enterprise's client at the identity
// provider, and the agent's client at the authorization server.
export const enterpriseClient = {
  client_id: 'authloop-enterprise',
  client_secret: 'authloop-enterprise-secret-0123456789',
  application_type: 'native',
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token', grantTokenExchange],
  response_types: ['code'],
  scope: 'openid offline_access mcp:tools',
};
export const agentClient = {
  client_id: 'authloop-agent',
  client_secret: 'authloop-agent-secret-0123456789',
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: [],
  grant_types: [grantJWTBearer],
  response_types: [],
  scope: 'openid',
  // Short access tokens: the test crosses an expiry.
  authloop_access_token_ttl: 4,
};
const agents = { [enterpriseClient.client_id]: agentClient.client_id };

const idjagKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const seen = new Map(); // jti -> exp, of the ID-JAGs accepted

const b64json = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const refuse = (code, description) => new errors.CustomOIDCProviderError(code, description);

function signIDJAG(payload) {
  const input = `${b64json({ alg: 'ES256', typ: typIDJAG })}.${b64json(payload)}`;
  const sig = sign('sha256', Buffer.from(input), { key: idjagKey.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

function verifyIDJAG(jwt) {
  const parts = typeof jwt === 'string' ? jwt.split('.') : [];
  if (parts.length !== 3) throw refuse('invalid_grant', 'the assertion is not a JWT');
  let header;
  let payload;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    payload = JSON.parse(Buffer.from(parts[1], 'base64url'));
  } catch {
    throw refuse('invalid_grant', 'the assertion is not a JWT');
  }
  const ok = header.alg === 'ES256' && verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: idjagKey.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw refuse('invalid_grant', 'the assertion is not signed by a trusted identity provider');
  if (header.typ !== typIDJAG) throw refuse('invalid_grant', `the assertion's typ is not ${typIDJAG}`);
  return payload;
}

// tokenExchange is the identity provider's half.
async function tokenExchange(provider, ctx) {
  const { client, params } = ctx.oidc;
  if (params.requested_token_type !== tokenTypeIDJAG) {
    throw new errors.InvalidRequest(`requested_token_type must be ${tokenTypeIDJAG}`);
  }
  if (params.subject_token_type !== tokenTypeIDToken) {
    throw new errors.InvalidRequest(`subject_token_type must be ${tokenTypeIDToken}`);
  }
  if (!params.subject_token) throw new errors.InvalidRequest('subject_token is missing');
  if (params.actor_token) throw new errors.InvalidRequest('actor_token is not supported');
  if (params.audience !== provider.issuer) {
    throw new errors.InvalidTarget(`no authorization server ${params.audience} is known here`);
  }
  const agent = agents[client.clientId];
  if (!agent) throw new errors.UnauthorizedClient('this client has no client at that authorization server');
  let payload;
  try {
    // Our own ID token, issued to the requesting client (aud), signed by
    // our keys; validate skips exp, checked below.
    ({ payload } = await provider.IdToken.validate(params.subject_token, client));
  } catch (err) {
    throw refuse('invalid_grant', `subject_token is not an ID token of this provider for this client: ${err.message}`);
  }
  if (typeof payload.exp !== 'number' || payload.exp <= now()) {
    throw refuse('invalid_grant', 'subject_token has expired');
  }
  const claims = {
    iss: provider.issuer,
    sub: payload.sub,
    aud: params.audience,
    client_id: agent,
    jti: randomUUID(),
    iat: now(),
    exp: now() + idjagTTL,
  };
  if (params.resource) claims.resource = params.resource;
  if (params.scope) claims.scope = params.scope;
  ctx.body = {
    access_token: signIDJAG(claims),
    issued_token_type: tokenTypeIDJAG,
    token_type: 'N_A',
    expires_in: idjagTTL,
    ...(params.scope ? { scope: params.scope } : {}),
  };
}

// jwtBearer is the authorization server's half.
async function jwtBearer(provider, ctx) {
  const { client, params } = ctx.oidc;
  const idjag = verifyIDJAG(params.assertion);
  if (idjag.iss !== provider.issuer) throw refuse('invalid_grant', 'the assertion is not from a trusted identity provider');
  if (idjag.aud !== provider.issuer) throw refuse('invalid_grant', 'the assertion is for another authorization server');
  if (idjag.client_id !== client.clientId) throw refuse('invalid_grant', 'the assertion is for another client');
  if (typeof idjag.exp !== 'number' || idjag.exp <= now()) throw refuse('invalid_grant', 'the assertion has expired');
  if (typeof idjag.jti !== 'string' || seen.has(idjag.jti)) throw refuse('invalid_grant', 'the assertion was used before');
  for (const [jti, exp] of seen) if (exp <= now()) seen.delete(jti);
  seen.set(idjag.jti, idjag.exp);

  // What the assertion allows and the request asks for (RFC 7521 §4.1),
  // of the OpenID scopes this client may have.
  const allowed = new Set((idjag.scope || '').split(' '));
  const asked = (params.scope || idjag.scope || '').split(' ');
  const scope = asked.filter((s) => s && allowed.has(s) && client.scope.split(' ').includes(s)).join(' ');
  if (!scope.split(' ').includes('openid')) {
    throw new errors.InvalidScope('the assertion grants no openid scope for this client');
  }

  const grant = new provider.Grant({ accountId: idjag.sub, clientId: client.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const at = new provider.AccessToken({
    accountId: idjag.sub,
    client,
    grantId,
    gty: 'jwt-bearer',
    scope,
  });
  const value = await at.save();
  ctx.body = {
    access_token: value,
    token_type: at.tokenType,
    expires_in: at.expiration,
    scope,
  };
}

// register adds both grant types to provider.
export function register(provider) {
  provider.registerGrantType(grantTokenExchange, (ctx) => tokenExchange(provider, ctx), [
    'subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope',
    'actor_token', 'actor_token_type',
  ]);
  provider.registerGrantType(grantJWTBearer, (ctx) => jwtBearer(provider, ctx), ['assertion', 'scope', 'resource']);
}
