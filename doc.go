// Package authloop gives command-line tools, desktop apps and MCP clients an
// OAuth 2.1 login that keeps working: the person signs in once in the
// browser, and from then on the program holds a valid access token.
//
// Login runs the authorization code flow with PKCE (S256 only) through a
// loopback redirect receiver (RFC 8252): it opens the browser at the
// authorization URL, waits on http://127.0.0.1:PORT/callback for the answer,
// checks state and iss (RFC 9207), and exchanges the code for tokens with a
// token request of its own that sends the RFC 8707 resource, never replays a
// code, and tells a dead grant from a network blip.
//
// The tokens are golang.org/x/oauth2 tokens, so everything built on
// oauth2.TokenSource keeps working.
package authloop
