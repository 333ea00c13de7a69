// Package oauthtest provides an OAuth 2.1 authorization server that runs
// inside a test, in the spirit of net/http/httptest.
//
// NewServer starts it on a loopback port with one public client
// (DefaultClientID). It serves authorization server metadata (RFC 8414 and
// OpenID discovery), the authorization endpoint with PKCE S256 (query and
// form_post response modes, optional consent page), the token endpoint
// (authorization_code, refresh_token with rotation and reuse detection,
// client_credentials), dynamic client registration (RFC 7591, and RFC 7592
// client configuration endpoints with Config.RegistrationManagement), token
// revocation (RFC 7009) and a protected resource to call with the tokens.
// Loopback redirect URIs match with any port (RFC 8252 §7.3), or only as
// registered with Config.ExactRedirectURIs, as many servers compare them.
//
// With Config.DPoP it speaks DPoP (RFC 9449, proofs checked by package
// dpop): a token request with a proof gets tokens bound to the proof's
// key (token_type DPoP, cnf.jkt), a bound refresh token needs a proof by
// its key, the resource takes bound tokens with the DPoP scheme and
// refuses them as Bearer, and a proof is accepted once. Config.DPoPRequired
// refuses token requests without a proof; Config.DPoPNonce requires the
// server's nonce in every proof (RotateDPoPNonce replaces it).
//
// Machine identities (RFC 7523, RFC 8693): a client with Client.PublicKey
// authenticates with private_key_jwt (signature, iss = sub = client_id,
// aud, a short exp, a jti accepted once); the JWT-bearer grant trades a JWT
// from one of Config.TrustedIssuers (a workload platform's token, minted in
// tests by an AssertionIssuer) for an access token for its subject; with
// Config.TokenExchange the server is an enterprise identity provider that
// exchanges its own ID tokens for ID-JAGs, which another Server trusting
// it (TrustedIssuer) takes as JWT-bearer grants. ID tokens and ID-JAGs
// are ES256-signed (PublicKey, jwks_uri). The server checks every JWT with
// the standard library's crypto alone.
//
// Tests control it: a FakeClock moves time, FailNext injects token-endpoint
// failures (5xx, 429, delays, connection resets, malformed bodies, DPoP
// nonce challenges; to every grant type or one, Fault.GrantType),
// ChallengeResourceNonce a DPoP nonce challenge at the resource, DenyNext
// scripts an authorization error, DenyRegistration a refused registration,
// RevokeAll ends every grant, and Config switches on the quirks of real
// providers (expires_in as a string, errors with status 200, no rotation,
// ...). Count, CountGrant and Requests show what the server saw, without
// any secret (with the DPoP key and nonce of each proof);
// TokenBinding shows the key a token is bound to.
//
// Browse plays the user's browser, so a login flow runs headless.
//
// All state is in memory and guarded by a mutex; a Server is safe for
// concurrent use.
package oauthtest
