// oidc-provider, configured for authloop's integration tests.
//
// Started by the Go harness (integration/peers) as `node server.mjs` with
// PORT set to a free loopback port; it prints "ready <issuer>" on stdout once
// it listens, and stops on SIGTERM or when stdin closes. Everything lives in
// memory and dies with the process.
//
// Environment:
//   PORT              the port to listen on (127.0.0.1), required
//   ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3600)
//   RESOURCE          the known resource server (default https://mcp.example.test/mcp)
//   DPOP_NONCE        "1": every DPoP proof (token endpoint, userinfo) must
//                     carry a nonce of ours (RFC 9449 §8, §9): a proof
//                     without one gets use_dpop_nonce and a DPoP-Nonce header
//
// DPoP (RFC 9449) is on, as it is by default in oidc-provider 9: the
// metadata lists dpop_signing_alg_values_supported (ES256, Ed25519, EdDSA),
// and a token request with a proof gets token_type DPoP, an access token
// bound to the proof's key (cnf.jkt) and, for a public client, a refresh
// token bound to it too.
//
// Machine identities: the client credentials grant is on (clients registered
// at /reg with grant_types ["client_credentials"], client_secret_basic or
// private_key_jwt with their jwks); and idjag.mjs (test configuration of
// ours, not oidc-provider's) adds RFC 8693 token exchange for an ID-JAG and
// the JWT bearer grant, with the two static clients they need.
//
// Besides RESOURCE, any http://127.0.0.1:<port>/mcp is a known resource: the
// MCP servers the tests start on loopback (integration/mcp_test.go), whose
// port is not known when this server starts. Every other resource is
// refused with invalid_target.
import { randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

import * as idjag from './idjag.mjs';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('server.mjs: PORT must be set to a port number');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const accessTokenTTL = Number(process.env.ACCESS_TOKEN_TTL || 3600);
const knownResource = process.env.RESOURCE || 'https://mcp.example.test/mcp';
const loopbackMCPResource = /^http:\/\/127\.0\.0\.1:[1-9][0-9]{0,4}\/mcp$/;
const dpopNonce = process.env.DPOP_NONCE === '1';

const configuration = {
  clients: [
    {
      // A native public client, as a CLI is.
      client_id: 'authloop-native',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid offline_access mcp:tools',
    },
    {
      // A confidential client (client_secret_basic), as a server-side tool is.
      client_id: 'authloop-confidential',
      client_secret: 'authloop-confidential-secret-0123456789',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid offline_access mcp:tools',
    },
    // Enterprise-managed authorization's two clients (idjag.mjs, test
    // configuration of ours).
    idjag.enterpriseClient,
    idjag.agentClient,
  ],
  // Fixed keys: the cookies live only as long as this process.
  cookies: { keys: ['authloop-integration-cookie-key-not-a-secret'] },
  scopes: ['openid', 'offline_access', 'mcp:tools'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  // A refresh token for every client allowed the grant, without insisting
  // on offline_access plus a consent prompt.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // A client may ask for short-lived access tokens (tests of the background
  // refresh): authloop_access_token_ttl, in seconds, in its registration.
  extraClientMetadata: {
    properties: ['authloop_access_token_ttl'],
    validator: (ctx, key, value) => {
      if (key === 'authloop_access_token_ttl' && value !== undefined
          && !(Number.isInteger(value) && value > 0)) {
        throw new errors.InvalidClientMetadata('authloop_access_token_ttl must be a positive integer');
      }
    },
  },
  ttl: {
    AccessToken: (ctx, token, client) => client?.metadata().authloop_access_token_ttl
      || token.resourceServer?.accessTokenTTL || accessTokenTTL,
    AuthorizationCode: 60,
    // Client credentials tokens: the same rule, so that a machine client
    // registered with authloop_access_token_ttl gets short-lived ones.
    ClientCredentials: (ctx, token, client) => client?.metadata().authloop_access_token_ttl
      || token.resourceServer?.accessTokenTTL || accessTokenTTL,
    Grant: 14 * 24 * 60 * 60,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 14 * 24 * 60 * 60,
    Session: 14 * 24 * 60 * 60,
  },
  features: {
    devInteractions: { enabled: true },
    // The client credentials grant (RFC 6749 §4.4), for programs with no
    // person present; private_key_jwt (RFC 7523 client assertions) is on
    // by default for any client registered with it and its jwks.
    clientCredentials: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    dPoP: dpopNonce
      ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
      : { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      // A refresh without resource gets the resource of the grant.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (resourceIndicator === knownResource || loopbackMCPResource.test(resourceIndicator)) {
          return {
            scope: 'mcp:tools',
            audience: resourceIndicator,
            accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        }
        throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
      },
    },
  },
};

const provider = new Provider(issuer, configuration);
// Token exchange for an ID-JAG and the JWT bearer grant: test configuration
// of ours, see idjag.mjs.
idjag.register(provider);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
server.on('error', (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The harness holds our stdin: when it goes away, so do we.
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
