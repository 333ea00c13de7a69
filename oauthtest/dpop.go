package oauthtest

// DPoP (OAuth 2.0 Demonstrating Proof of Possession, RFC 9449), the server's
// side: proofs at the token endpoint and at the resource, tokens bound to
// the proof's key, nonces, and replay. The proofs are checked by package
// dpop; this file holds the server's policy and state.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authloop/authloop/dpop"
)

// dpopAlgs is the one proof algorithm the server accepts (package dpop
// speaks ES256 only), as listed in the metadata and in challenges.
const dpopAlgs = "ES256"

// dpopState is the server's DPoP state, guarded by Server.mu.
type dpopState struct {
	// nonce is the current nonce, required in every proof with
	// Config.DPoPNonce.
	nonce string
	// tokenNonce, with nonces off, is the nonce a FaultUseDPoPNonce sent:
	// the next token request's proof must carry it, once.
	tokenNonce string
	// resourceNonce and resourceChallenges, with nonces off, are
	// ChallengeResourceNonce's: the next resourceChallenges resource
	// requests whose proof does not carry resourceNonce are challenged.
	resourceNonce      string
	resourceChallenges int
	// seen holds the jti of every proof accepted, with the time after
	// which Check would refuse the proof anyway (its iat plus the maximum
	// age), when the entry is dropped.
	seen map[string]time.Time
}

// initDPoP sets up the DPoP state. DPoPRequired and DPoPNonce imply DPoP.
func (s *Server) initDPoP() {
	if s.cfg.DPoPRequired || s.cfg.DPoPNonce {
		s.cfg.DPoP = true
	}
	s.dp = dpopState{nonce: randomToken(), seen: make(map[string]time.Time)}
}

// RotateDPoPNonce makes a new current DPoP nonce and returns it: from now
// on a proof must carry it, and one with the previous nonce is answered
// use_dpop_nonce (with Config.DPoPNonce; without it, no nonce is required
// and the new one is not used). Safe for concurrent use.
func (s *Server) RotateDPoPNonce() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dp.nonce = randomToken()
	return s.dp.nonce
}

// ChallengeResourceNonce makes the resource ask for a fresh DPoP nonce
// (RFC 9449 §9), and returns that nonce.
//
// Without Config.DPoPNonce: the next n resource requests with the DPoP
// scheme whose proof is valid but does not carry the fresh nonce are
// answered 401 with WWW-Authenticate: DPoP error="use_dpop_nonce" and
// DPoP-Nonce: the fresh nonce; a proof that carries it is accepted (and
// not counted). When the n challenges are spent, no nonce is required
// again. A call replaces the challenges a previous call left.
//
// With Config.DPoPNonce, it is RotateDPoPNonce, whatever n: every proof
// with the previous nonce, at the resource and at the token endpoint, is
// challenged, as it would be anyway.
func (s *Server) ChallengeResourceNonce(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	nonce := randomToken()
	if s.cfg.DPoPNonce {
		s.dp.nonce = nonce
		return nonce
	}
	s.dp.resourceNonce, s.dp.resourceChallenges = nonce, max(n, 0)
	return nonce
}

// TokenBinding returns the JWK thumbprint of the key the access token is
// bound to (its cnf.jkt), or "" for a bearer token or a token this server
// did not issue. It does not look at expiry or revocation.
func (s *Server) TokenBinding(accessToken string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at := s.access[accessToken]; at != nil {
		return at.jkt
	}
	return ""
}

// rememberLocked records an accepted proof's jti and reports whether it
// is new; a proof seen before is a replay (RFC 9449 §11.1). Entries are
// dropped once Check would refuse their proof for its age, so the set
// holds at most the proofs of the last few minutes. The caller holds s.mu.
func (d *dpopState) rememberLocked(p *dpop.Proof, now time.Time) bool {
	for jti, until := range d.seen {
		if now.After(until) {
			delete(d.seen, jti)
		}
	}
	if _, ok := d.seen[p.JTI]; ok {
		return false
	}
	d.seen[p.JTI] = p.IAT.Add(dpop.DefaultMaxAge)
	return true
}

// requestProof is the DPoP header of a request: the parsed proof, or why
// it is refused (none, more than one, or not a proof).
type requestProof struct {
	p   *dpop.Proof
	err error
}

// readProof reads a request's DPoP header, or returns nil when it has
// none. A request with more than one is refused (RFC 9449 §4.3). The
// proof's nonce claim goes to the request log.
func readProof(x *exchange) *requestProof {
	vs := x.r.Header.Values("DPoP")
	switch len(vs) {
	case 0:
		return nil
	case 1:
		p, err := dpop.Parse(vs[0])
		if p != nil {
			x.dpopNonce = p.Nonce
		}
		return &requestProof{p: p, err: err}
	}
	return &requestProof{err: fmt.Errorf("%w: the request has %d DPoP headers; send exactly one", dpop.ErrInvalidProof, len(vs))}
}

// readTokenProof reads a token request's DPoP header when the server
// speaks DPoP; with Config.DPoP off the header is ignored (nil).
func (s *Server) readTokenProof(x *exchange) *requestProof {
	if !s.cfg.DPoP {
		return nil
	}
	return readProof(x)
}

// tokenProofLocked checks a token request's proof (RFC 9449 §4.3, §5, §8)
// before the grant is looked at, so that a refused request spends nothing,
// and returns the thumbprint its tokens are to be bound to ("" for a
// request without a proof, answered with bearer tokens). The caller holds
// s.mu.
func (s *Server) tokenProofLocked(x *exchange, rp *requestProof) (string, *oauthError) {
	if !s.cfg.DPoP {
		return "", nil
	}
	if rp == nil {
		if s.cfg.DPoPRequired {
			return "", &oauthError{code: "invalid_dpop_proof", desc: "a DPoP proof is required: send a DPoP header with a proof signed by the client's key (RFC 9449 §5)"}
		}
		return "", nil
	}
	if rp.err != nil {
		return "", &oauthError{code: "invalid_dpop_proof", desc: rp.err.Error()}
	}
	now := s.clock.Now()
	nonce := s.dp.tokenNonce
	if s.cfg.DPoPNonce {
		nonce = s.dp.nonce
	}
	err := rp.p.Check(dpop.Check{Method: http.MethodPost, URL: s.TokenEndpoint(), Now: now, Nonce: nonce})
	switch {
	case errors.Is(err, dpop.ErrNonceRequired):
		x.Header().Set("DPoP-Nonce", nonce)
		return "", &oauthError{code: "use_dpop_nonce", desc: "the authorization server requires a nonce in the DPoP proof: make a new proof with the nonce of the DPoP-Nonce header"}
	case err != nil:
		return "", &oauthError{code: "invalid_dpop_proof", desc: err.Error()}
	case !s.dp.rememberLocked(rp.p, now):
		return "", &oauthError{code: "invalid_dpop_proof", desc: "the DPoP proof was used before (its jti): make a new proof for each request"}
	}
	if !s.cfg.DPoPNonce {
		s.dp.tokenNonce = "" // carried once
	}
	x.dpopJKT = rp.p.JKT()
	return rp.p.JKT(), nil
}

// tokenBindingLocked refuses, before anything is spent, a token request
// whose grant is bound to a key the request does not prove: a refresh
// token bound to a key (RFC 9449 §5), presented without a proof or with a
// proof by another key, and an authorization code whose request named
// dpop_jkt (§10), redeemed with another key or none. The caller holds
// s.mu.
func (s *Server) tokenBindingLocked(form url.Values, jkt string) *oauthError {
	switch form.Get("grant_type") {
	case "refresh_token":
		rt := s.refresh[form.Get("refresh_token")]
		switch {
		case rt == nil || rt.jkt == "" || rt.jkt == jkt:
			return nil
		case jkt == "":
			return &oauthError{code: "invalid_dpop_proof", desc: "the refresh token is DPoP-bound: send a DPoP proof signed by the key it was issued to"}
		}
		return &oauthError{code: "invalid_dpop_proof", desc: "the DPoP proof is signed by another key than the refresh token is bound to: only the key it was issued to may use it"}
	case "authorization_code":
		ac := s.codes[form.Get("code")]
		if ac == nil || ac.dpopJKT == "" || ac.dpopJKT == jkt {
			return nil
		}
		return &oauthError{code: "invalid_grant", desc: "the authorization request named dpop_jkt, and the token request's DPoP proof is not signed by that key (or there is none); the code is not spent"}
	}
	return nil
}

// dpopNonceHeader sends the current nonce with the answer to a request
// with a DPoP header when nonces are on (RFC 9449 §8.2, §9), whatever the
// answer (an injected fault's aside).
func (s *Server) dpopNonceHeader(x *exchange) {
	if s.cfg.DPoPNonce && len(x.r.Header.Values("DPoP")) > 0 {
		s.mu.Lock()
		x.Header().Set("DPoP-Nonce", s.dp.nonce)
		s.mu.Unlock()
	}
}

// dpopNonceHeaderLocked is dpopNonceHeader for a token request whose proof
// was read (rp), once the server has acted: the nonce may have changed
// meanwhile. The caller holds s.mu.
func (s *Server) dpopNonceHeaderLocked(x *exchange, rp *requestProof) {
	if rp != nil && s.cfg.DPoPNonce {
		x.Header().Set("DPoP-Nonce", s.dp.nonce)
	}
}

// faultUseDPoPNonce answers a token request under FaultUseDPoPNonce.
func (s *Server) faultUseDPoPNonce(x *exchange) {
	s.mu.Lock()
	nonce := randomToken()
	if s.cfg.DPoPNonce {
		s.dp.nonce = nonce
	} else {
		s.dp.tokenNonce = nonce
	}
	s.mu.Unlock()
	x.Header().Set("DPoP-Nonce", nonce)
	x.writeError(&oauthError{code: "use_dpop_nonce", desc: "injected fault: the authorization server requires a nonce in the DPoP proof; make a new proof with the nonce of the DPoP-Nonce header"}, true)
}

// resourceRefusal is a 401 from the resource: the error code, a short
// description for the challenge, and the detail for the body.
type resourceRefusal struct {
	code, desc, detail string
}

// handleResourceDPoP serves a resource request with the DPoP scheme
// (RFC 9449 §7.1): the token must be valid and DPoP-bound, the one DPoP
// header a proof for this request (method, ResourceEndpoint, ath of the
// token) signed by the token's key, new (jti), and with the nonce the
// server requires, if any.
//
// A token that is not DPoP-bound is refused with the DPoP scheme:
// RFC 9449 §7.2 forbids only the other way round (a bound token as
// Bearer), but §7.1 grants access with the DPoP scheme only when the
// proof's key matches the key the token is bound to, and an unbound token
// has none; so a client that confuses its token types is told, not
// accepted.
func (s *Server) handleResourceDPoP(x *exchange, tok string) {
	rp := readProof(x)
	if rp == nil {
		rp = &requestProof{err: fmt.Errorf("%w: the request has no DPoP header; the DPoP scheme needs a proof of the token's key (RFC 9449 §7.1)", dpop.ErrInvalidProof)}
	}
	s.mu.Lock()
	now := s.clock.Now()
	at := s.access[tok]
	var refusal *resourceRefusal
	var nonceHeader string
	switch {
	case at == nil || !at.validAt(now):
		refusal = &resourceRefusal{"invalid_token", "the access token is invalid, expired or revoked", "the access token is invalid, expired or revoked"}
	case at.jkt == "":
		refusal = &resourceRefusal{"invalid_token", "the access token is not DPoP-bound; send it with the Bearer scheme", "the access token is not DPoP-bound; send it with the Bearer scheme"}
	case rp.err != nil:
		refusal = &resourceRefusal{"invalid_dpop_proof", "invalid DPoP proof", rp.err.Error()}
	default:
		nonce := ""
		switch {
		case s.cfg.DPoPNonce:
			nonce = s.dp.nonce
		case s.dp.resourceChallenges > 0:
			nonce = s.dp.resourceNonce
		}
		err := rp.p.Check(dpop.Check{Method: x.r.Method, URL: s.ResourceEndpoint(), Now: now, AccessToken: tok, JKT: at.jkt, Nonce: nonce})
		switch {
		case err != nil && rp.p.JKT() != at.jkt:
			// RFC 9449 §7.1, Figure 16: a failed key binding is invalid_token.
			refusal = &resourceRefusal{"invalid_token", "invalid DPoP key binding", "the DPoP proof is signed by another key than the access token is bound to: only the key it was issued to may use it"}
		case errors.Is(err, dpop.ErrNonceRequired):
			refusal = &resourceRefusal{"use_dpop_nonce", "the resource server requires a nonce in the DPoP proof", err.Error()}
			nonceHeader = nonce
			if !s.cfg.DPoPNonce {
				s.dp.resourceChallenges--
			}
		case err != nil:
			refusal = &resourceRefusal{"invalid_dpop_proof", "invalid DPoP proof", err.Error()}
		case !s.dp.rememberLocked(rp.p, now):
			refusal = &resourceRefusal{"invalid_dpop_proof", "the DPoP proof was used before", "the DPoP proof was used before (its jti): make a new proof for each request"}
		}
	}
	var body map[string]any
	if refusal == nil {
		x.clientID = at.grant.clientID
		x.dpopJKT = at.jkt
		body = resourceBody(at)
	}
	if s.cfg.DPoPNonce {
		nonceHeader = s.dp.nonce
	}
	s.mu.Unlock()

	if nonceHeader != "" {
		x.Header().Set("DPoP-Nonce", nonceHeader)
	}
	if refusal != nil {
		x.Header().Set("WWW-Authenticate", s.dpopChallenge(refusal.code, refusal.desc))
		x.errCode = refusal.code
		x.writeJSON(http.StatusUnauthorized, map[string]string{"error": refusal.code, "error_description": refusal.detail})
		return
	}
	x.writeJSON(http.StatusOK, body)
}

// dpopChallenge is the DPoP challenge of RFC 9449 §7.1, with an error when
// code is set, the algorithms and the resource_metadata URL (RFC 9728).
func (s *Server) dpopChallenge(code, desc string) string {
	c := "DPoP "
	if code != "" {
		c += `error="` + code + `", error_description="` + quoteParam(desc) + `", `
	}
	return c + `algs="` + dpopAlgs + `", resource_metadata="` + s.ResourceMetadataURL() + `"`
}

// quoteParam escapes s for a quoted-string of a challenge (RFC 9110
// §5.6.4).
func quoteParam(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// dpopJKTParam is the dpop_jkt parameter of an authorization request
// (RFC 9449 §10) when the server speaks DPoP: the code is then bound to
// that key. Without Config.DPoP the parameter is ignored, as a server
// that does not know it would.
func (s *Server) dpopJKTParam(q url.Values) string {
	if !s.cfg.DPoP {
		return ""
	}
	return q.Get("dpop_jkt")
}
