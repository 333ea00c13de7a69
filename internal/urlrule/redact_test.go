package urlrule

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"https://as.example/token", "https://as.example/token"},
		{"https://as.example/authorize?client_id=c&state=s3cret", "https://as.example/authorize"},
		{"https://user:pa55@as.example/token", "https://as.example/token"},
		{"https://user@as.example/token", "https://as.example/token"},
		{"https://as.example/cb#access_token=s3cret", "https://as.example/cb"},
		{"https://as.example/cb?code=s3cret#frag", "https://as.example/cb"},
		{"http://[::1]:9/token?x=1", "http://[::1]:9/token"},
		{"", ""},
		{"https://as.example/%zz", "(unparsable URL)"},
		{"http://a b.example/?secret=1", "(unparsable URL)"},
	} {
		if got := RedactURL(tt.raw); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestRedactURLError(t *testing.T) {
	cause := errors.New("connection refused")
	err := RedactURLError(&url.Error{Op: "Post", URL: "https://u:pw@as.example/token?code=s3cret", Err: cause})
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Op != "Post" || ue.URL != "https://as.example/token" || !errors.Is(err, cause) {
		t.Fatalf("RedactURLError = %#v, want a *url.Error for https://as.example/token wrapping the cause", err)
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pw") {
		t.Errorf("the message shows a secret: %v", err)
	}
	if got := RedactURLError(cause); got != cause {
		t.Errorf("another error came back as %v", got)
	}
	if RedactURLError(nil) != nil {
		t.Error("nil came back not nil")
	}
}
