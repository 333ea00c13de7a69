package oautherr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorMessage(t *testing.T) {
	e := &Error{Code: "invalid_grant", Description: "expired\x1b[31m", URI: "https://x.example/e", StatusCode: 400, Endpoint: "token"}
	msg := e.Error()
	for _, want := range []string{"token endpoint", `"invalid_grant"`, "HTTP 400", `\x1b[31m`, "https://x.example/e"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\x1b") {
		t.Error("a terminal escape from the server reached the message unquoted")
	}
}

func TestErrorsIsByCode(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Code: "access_denied"})
	if !errors.Is(err, &Error{Code: "access_denied"}) {
		t.Error("same code not matched")
	}
	if errors.Is(err, &Error{Code: "invalid_grant"}) || errors.Is(err, &Error{}) {
		t.Error("another or an empty code matched")
	}
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "access_denied" {
		t.Error("errors.As failed")
	}
}
