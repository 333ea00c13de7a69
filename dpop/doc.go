// Package dpop implements DPoP proofs (OAuth 2.0 Demonstrating Proof of
// Possession, RFC 9449) with ES256 keys: a client's key and the proofs it
// signs, and a server's checks of a proof.
//
// A DPoP-bound token is useless without the key it is bound to: each
// request carries a fresh proof, a JWT signed by the key and naming the
// request's method and URL (and, at a resource, the hash of the access
// token), so a token that leaks through a log or a proxy cannot be used by
// whoever holds it.
//
// # Client side
//
// A Key wraps a crypto.Signer on P-256: GenerateKey makes one in memory
// (MarshalPrivateKey and ParsePrivateKey store and restore it), NewKey
// takes one the program holds elsewhere. Key.Proof makes the proof for one
// request, to send in the DPoP header; Key.Thumbprint is the key's name
// (cnf.jkt in a bound token, dpop_jkt in an authorization request).
//
// # Server side
//
// Parse checks a proof's form, header and signature; Proof.Check compares
// it with the request it came with and with what the server requires
// (method, URL, age, nonce, access token, key binding). Their errors match
// ErrInvalidProof or ErrNonceRequired, which map to the error codes
// invalid_dpop_proof and use_dpop_nonce.
//
// # What is left to the caller
//
//   - The header: a request with more than one DPoP header is refused
//     before Parse (RFC 9449 §4.3); Parse reads the value of the one.
//   - Replay: Parse and Check accept a proof as often as it is shown. A
//     server keeps the jti (Proof.JTI) of the proofs it accepted for as long
//     as Check would accept them, and refuses one it has seen.
//   - Nonces: a server that wants them makes them, sends them in the
//     DPoP-Nonce header, and passes the one it expects in Check.Nonce; a
//     client remembers the latest one per server and passes it in
//     ProofParams.Nonce.
//   - Binding: a server records the thumbprint (Proof.JKT) in the tokens it
//     issues and passes it in Check.JKT when they come back.
//
// Only ES256 is spoken, on both sides: it is what RFC 9449's examples, the
// MCP authorization specification and common servers use, and one algorithm
// leaves nothing to downgrade. The JWS code is authloop's own
// (internal/jose, shared with package assertion: a few dozen lines over
// crypto/ecdsa, fuzzed through Parse), so the library needs no JOSE
// dependency.
package dpop
