package authloop

import (
	"strings"
	"testing"
)

// A token endpoint's unusable answer is described with its status and
// media type, or "no content type" when it named none (often the sign of
// a proxy's or gateway's page, not the server's answer).
func TestTokenResponseErrorNamesTheMediaType(t *testing.T) {
	e := &TokenResponseError{StatusCode: 502, ContentType: "text/html", Problem: "not JSON"}
	if msg := e.Error(); !strings.Contains(msg, "HTTP 502 (text/html)") || !strings.Contains(msg, "not JSON") {
		t.Errorf("%q: want the status, the media type and the problem", msg)
	}
	e.ContentType = ""
	if msg := e.Error(); !strings.Contains(msg, "HTTP 502 (no content type)") {
		t.Errorf("%q: want it to say there was no content type", msg)
	}
}
