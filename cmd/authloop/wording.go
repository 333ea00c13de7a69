package main

import (
	"time"

	"golang.org/x/oauth2"
)

// shorterThanAsked says that tok is valid for less than the minValid asked
// for: after a refresh (refreshed), the server's tokens are shorter than
// asked; without one, the token has expired, or is valid but too short,
// and there is no refresh token to renew it.
func shorterThanAsked(tok *oauth2.Token, minValid time.Duration, refreshed bool) string {
	left := time.Until(tok.Expiry)
	asked := roundDuration(minValid)
	switch {
	case refreshed:
		return "the server's tokens are shorter than the " + asked + " asked (--min-valid): the new one is valid for " + roundDuration(left)
	case tok.AccessToken == "" || left <= 0:
		return "the access token has expired and there is no refresh token"
	}
	return "the access token is valid for " + roundDuration(left) + ", less than the " + asked + " asked (--min-valid), and there is no refresh token to renew it"
}
