package oauthtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func rawTokenPost(t *testing.T, ctx context.Context, s *Server, form url.Values) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenEndpoint(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirectClient(t).Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

func TestFaults(t *testing.T) {
	cases := []struct {
		fault      Fault
		status     int
		retryAfter string
		bodyHas    string
		oauthCode  string
	}{
		{Fault{Kind: FaultServerError}, 500, "", `"server_error"`, "server_error"},
		{Fault{Kind: FaultUnavailable, RetryAfter: "7"}, 503, "7", "", ""},
		{Fault{Kind: FaultUnavailable}, 503, "", "", ""},
		{Fault{Kind: FaultTooManyRequests}, 429, "1", "", ""},
		{Fault{Kind: FaultTooManyRequests, RetryAfter: "30"}, 429, "30", "", ""},
		{Fault{Kind: FaultMalformed}, 200, "", "", ""},
		{Fault{Kind: FaultHTML}, 502, "", "<html>", ""},
		{Fault{Kind: FaultInvalidGrant}, 400, "", `"invalid_grant"`, "invalid_grant"},
		{Fault{Kind: FaultTemporarilyUnavailable}, 400, "", `"temporarily_unavailable"`, "temporarily_unavailable"},
		{Fault{Kind: FaultTemporarilyUnavailable, RetryAfter: "2"}, 503, "2", `"temporarily_unavailable"`, "temporarily_unavailable"},
		{Fault{Kind: FaultOAuthError, Code: "invalid_client"}, 401, "", `"invalid_client"`, "invalid_client"},
		{Fault{Kind: FaultOAuthError, Code: "invalid_target"}, 400, "", `"invalid_target"`, "invalid_target"},
	}
	for _, tc := range cases {
		t.Run(tc.fault.Kind.String()+tc.fault.Code, func(t *testing.T) {
			s := newTestServer(t, Config{})
			rt := login(t, s).str("refresh_token")
			s.FailNext(1, tc.fault)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}
			resp, body, err := rawTokenPost(t, context.Background(), s, form)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Retry-After") != tc.retryAfter || !strings.Contains(body, tc.bodyHas) {
				t.Fatalf("got %d Retry-After %q body %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if tc.fault.Kind == FaultMalformed && strings.HasPrefix(body, "{") && strings.HasSuffix(body, "}") {
				t.Errorf("body looks like JSON: %q", body)
			}
			reqs := s.Requests()
			last := reqs[len(reqs)-1]
			if last.Fault != tc.fault.Kind || last.Status != tc.status || last.Error != tc.oauthCode || last.GrantType != "refresh_token" {
				t.Errorf("log entry %+v", last)
			}
			// The fault consumed nothing: the same refresh token works next.
			if res := refresh(t, s, rt, nil); res.status != 200 {
				t.Errorf("after fault: %d %v", res.status, res.body)
			}
		})
	}
}

func TestFaultQueue(t *testing.T) {
	s := newTestServer(t, Config{})
	rt := login(t, s).str("refresh_token")
	s.FailNext(2, Fault{Kind: FaultServerError})
	s.FailNext(1, Fault{Kind: FaultTooManyRequests})
	for _, want := range []int{500, 500, 429, 200} {
		if res := refresh(t, s, rt, nil); res.status != want {
			t.Fatalf("got %d, want %d", res.status, want)
		}
	}
}

func TestFaultReset(t *testing.T) {
	s := newTestServer(t, Config{})
	s.FailNext(1, Fault{Kind: FaultReset})
	_, _, err := rawTokenPost(t, context.Background(), s, url.Values{"grant_type": {"client_credentials"}})
	if err == nil {
		t.Fatal("no error from a reset connection")
	}
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Fault != FaultReset || last.Status != 0 {
		t.Errorf("log entry %+v", last)
	}
}

func TestFaultDelay(t *testing.T) {
	s := newTestServer(t, Config{})
	s.FailNext(1, Fault{Kind: FaultDelay, Delay: time.Millisecond})
	res := login(t, s) // the delayed request is answered normally
	if res.str("access_token") == "" {
		t.Fatal(res.body)
	}

	// The request's context ends the wait.
	s.FailNext(1, Fault{Kind: FaultDelay, Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := rawTokenPost(t, ctx, s, url.Values{"grant_type": {"client_credentials"}})
		errc <- err
	}()
	waitFor(t, func() bool { return s.Count("token") == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestFaultDelayEndsAtClose(t *testing.T) {
	s := NewServer(Config{})
	s.FailNext(1, Fault{Kind: FaultDelay, Delay: time.Hour})
	errc := make(chan error, 1)
	go func() {
		_, _, err := rawTokenPost(t, context.Background(), s, url.Values{"grant_type": {"client_credentials"}})
		errc <- err
	}()
	waitFor(t, func() bool { return s.Count("token") == 1 })
	s.Close() // returns although a request waits an hour
	if err := <-errc; err == nil {
		t.Fatal("the waiting request got an answer")
	}
	s.Close() // idempotent
}

// FaultHoldAnswer: the server rotates at once and sends the answer only
// when released; a client that leaves meanwhile has lost the rotation.
func TestFaultHoldAnswer(t *testing.T) {
	s := newTestServer(t, Config{})
	rt := login(t, s).str("refresh_token")
	release, held := make(chan struct{}), make(chan struct{})
	s.FailNext(1, Fault{Kind: FaultHoldAnswer, Release: release, Held: held})
	resc := make(chan tokenResult, 1)
	go func() { resc <- refresh(t, s, rt, nil) }()
	<-held
	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Fault != FaultHoldAnswer || last.Status != 200 {
		t.Fatalf("log entry while held %+v, want the refresh done", last)
	}
	select {
	case res := <-resc:
		t.Fatalf("answered while held: %d %v", res.status, res.body)
	default:
	}
	close(release)
	res := <-resc
	next := res.str("refresh_token")
	if res.status != 200 || next == "" || next == rt {
		t.Fatalf("released answer: %d %v", res.status, res.body)
	}
	if res := refresh(t, s, next, nil); res.status != 200 {
		t.Fatalf("the held answer's refresh token: %d %v", res.status, res.body)
	}

	// A client that goes away during the hold loses the rotation: its
	// refresh token is spent.
	rt = login(t, s).str("refresh_token")
	s.FailNext(1, Fault{Kind: FaultHoldAnswer, Held: held})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}
	go func() {
		_, _, err := rawTokenPost(t, ctx, s, form)
		errc <- err
	}()
	<-held
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	wantError(t, refresh(t, s, rt, nil), 400, "invalid_grant")
}

func TestFaultHoldAnswerEndsAtClose(t *testing.T) {
	s := NewServer(Config{})
	s.FailNext(1, Fault{Kind: FaultHoldAnswer})
	errc := make(chan error, 1)
	go func() {
		_, _, err := rawTokenPost(t, context.Background(), s, url.Values{"grant_type": {"client_credentials"}})
		errc <- err
	}()
	waitFor(t, func() bool { r := s.Requests(); return len(r) == 1 && r[0].Status != 0 })
	s.Close() // returns although the answer is held forever
	if err := <-errc; err == nil {
		t.Fatal("the held request got an answer")
	}
}

// waitFor polls cond until it holds; the test's deadline bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

func TestFaultKindString(t *testing.T) {
	if FaultReset.String() != "FaultReset" || FaultKind(0).String() != "none" || FaultKind(99).String() != "FaultKind(99)" {
		t.Error("String")
	}
}
