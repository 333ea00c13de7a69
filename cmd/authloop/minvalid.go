package main

import (
	"time"

	"golang.org/x/oauth2"
)

// cappedMinValid is the validity a printed token must have left: minValid,
// but never more than half the token's lifetime as issued (its expires_in,
// which the record keeps), the rule by which the library caps its refresh
// buffer (Config.RefreshBuffer). Asking more than the server gives would
// refresh at every call: with 20-second tokens and --min-valid 1m, every
// `authloop token` would send a refresh request and rotate the refresh
// token. Capped, calls refresh about once per half lifetime. A token of
// unknown lifetime is not capped.
func cappedMinValid(tok *oauth2.Token, minValid time.Duration) time.Duration {
	if tok == nil || tok.ExpiresIn <= 0 {
		return minValid
	}
	return min(minValid, time.Duration(tok.ExpiresIn)*time.Second/2)
}

// noteCappedMinValid says, when the person asked with --min-valid for more
// than half the server's token lifetime, that the server's tokens are
// shorter and what the printed token holds instead.
func (a *app) noteCappedMinValid(tok *oauth2.Token, minValid time.Duration) {
	if c := cappedMinValid(tok, minValid); c < minValid {
		life := time.Duration(tok.ExpiresIn) * time.Second
		a.ui.printf("%s this server's access tokens last %s, less than twice the %s asked (--min-valid): the token printed is valid for at least %s (half a token's lifetime)", a.ui.dim("note:"), roundDuration(life), roundDuration(minValid), roundDuration(c))
	}
}
