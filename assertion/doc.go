// Package assertion is what a client needs of JWTs to authenticate and to
// be granted tokens without a person: it signs client assertions
// (private_key_jwt: RFC 7523 §2.2 and §3, OpenID Connect Core §9), reads
// the private keys that sign them, and reads the expiry of a JWT it is
// handed (an ID token, a workload token) without trusting it.
//
// A Signer wraps a crypto.Signer, so the key may live in memory, in a
// hardware module or in a KMS; its algorithm follows from the key (RS256,
// ES256, ES384, ES512 or EdDSA) and its kid defaults to the key's RFC 7638
// thumbprint. Signer.ClientAssertion makes the client_assertion of one
// token request, sent with client_assertion_type ClientAssertionType;
// Signer.JWKS is what the client registers at its authorization server.
// LoadSigner reads a key file (PEM or JWK, mode 600) into a Signer;
// ParsePrivateKey reads the bytes.
//
// Expiry reads a JWT's exp claim and nothing else: it verifies no
// signature, so what it returns only tells the client when to get a new
// token, never whether the token is good.
//
// The constants name the grant and token types of RFC 7523 (JWT bearer
// grant), RFC 8693 (token exchange) and the Identity Assertion JWT
// Authorization Grant (ID-JAG) that the MCP enterprise-managed
// authorization extension uses.
//
// The JWS code is authloop's own (internal/jose, shared with package
// dpop), over the standard library: the package imports no JOSE library.
package assertion
