// Whose tokens a program's session may use: a JWT bearer grant and an
// identity assertion speak for the subject of their assertion (a
// workload, a person), and two sessions that share a record's key (the
// same client, grant, issuer, resource and account) may speak for two.

package authloop

import (
	"context"

	"golang.org/x/oauth2"
)

// grantSubjectKey is the Extra key under which a token obtained by a grant
// that speaks for a subject names it (subjectOf: issuer and subject of
// the assertion the grant presented): a session uses a stored token only
// when its own assertion names the same subject.
const grantSubjectKey = "authloop_grant_subject"

// subjected is implemented by the grants whose tokens belong to the
// subject of their assertion (JWTBearer, IdentityAssertion), not to the
// client: subject reads the assertion the next grant would present.
type subjected interface {
	subject(ctx context.Context) (string, error)
}

func (g jwtBearer) subject(ctx context.Context) (string, error) {
	if g.src == nil {
		return "", nil
	}
	a, err := readAssertion(ctx, g.src, "the JWT bearer grant's assertion")
	return subjectOf(a), err
}

func (g *identityAssertion) subject(ctx context.Context) (string, error) {
	if g.idToken == nil {
		return "", nil
	}
	a, err := readAssertion(ctx, g.idToken, "the ID token for the identity assertion")
	return subjectOf(a), err
}

// subjectOf returns the issuer and subject of a JWT, without verifying it
// (the server does): "" for anything that does not name both.
func subjectOf(jwt string) string {
	var c struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	// Its size was bounded by readAssertion.
	if !decodeJWTClaims(jwt, maxAssertion, &c) || c.Iss == "" || c.Sub == "" {
		return ""
	}
	return c.Iss + " " + c.Sub
}

// grantSubject returns the subject this session's grant speaks for, and
// whether it speaks for one at all (false: the client's own tokens, as
// with ClientCredentials).
func (s *Session) grantSubject(ctx context.Context) (string, bool, error) {
	g, ok := s.cfg.Grant.(subjected)
	if !ok {
		return "", false, nil
	}
	sub, err := g.subject(ctx)
	return sub, true, err
}

// ownStored returns stored when this session may use it: always, unless
// its grant speaks for a subject (mine, from grantSubject) and stored was
// obtained for another one, or for one it cannot tell. held is the
// session's own token, which it may always use.
func ownStored(stored, held *oauth2.Token, mine string, subjectBound bool) *oauth2.Token {
	if stored == nil || !subjectBound || held != nil && stored.AccessToken == held.AccessToken {
		return stored
	}
	if theirs, _ := stored.Extra(grantSubjectKey).(string); mine == "" || theirs != mine {
		return nil // another workload's or person's: never used, overwritten by this session's save
	}
	return stored
}

// markSubject returns tok naming the subject its grant spoke for.
func markSubject(tok *oauth2.Token, sub string) *oauth2.Token {
	extra := extraOf(tok)
	extra[grantSubjectKey] = sub
	return withExtra(tok, extra)
}
