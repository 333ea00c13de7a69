package assertion

// ClientAssertionType is the client_assertion_type of a token request
// authenticated with a JWT (RFC 7523 §2.2; private_key_jwt in OpenID Connect
// Core §9): the client_assertion parameter is Signer.ClientAssertion's JWT.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// GrantTypeJWTBearer is the grant_type of a token request whose grant is a
// JWT, sent in the assertion parameter (RFC 7523 §2.1): a workload's
// platform-issued token, or an ID-JAG at the resource's authorization
// server.
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// GrantTypeTokenExchange is the grant_type of an OAuth 2.0 Token Exchange
// request (RFC 8693 §2.1), with which a client trades an ID token at the
// identity provider for an ID-JAG.
const GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// TokenTypeIDJAG is the requested_token_type of a token exchange that asks
// for an Identity Assertion JWT Authorization Grant (the IETF OAuth draft
// "Identity Assertion JWT Authorization Grant", used by the MCP
// enterprise-managed authorization extension).
const TokenTypeIDJAG = "urn:ietf:params:oauth:token-type:id-jag"

// TokenTypeIDToken is the subject_token_type of a token exchange whose
// subject token is an OpenID Connect ID token (RFC 8693 §3).
const TokenTypeIDToken = "urn:ietf:params:oauth:token-type:id_token"
