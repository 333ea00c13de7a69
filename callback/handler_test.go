package callback

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/authloop/authloop/oautherr"
)

func TestGETQueryAccepted(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	w := get(r, q("code", "abc", "state", testState, "iss", "https://as.example", "extra", "1"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	resp, err := waitNow(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != "abc" || resp.State != testState || resp.Issuer != "https://as.example" || resp.Method != "GET" || resp.Params.Get("extra") != "1" {
		t.Fatalf("resp = %+v", resp)
	}
}

func TestFormPostAccepted(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	w := serve(r, "POST", "/callback", q("code", "abc", "state", testState), "application/x-www-form-urlencoded; charset=utf-8")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	resp, err := waitNow(t, r)
	if err != nil || resp.Code != "abc" || resp.Method != "POST" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestFormPostIgnoresQuery(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	// The state in the query must not count for a POST.
	w := serve(r, "POST", "/callback?"+q("state", testState), q("code", "abc"), "application/x-www-form-urlencoded")
	if w.Code != http.StatusBadRequest || ended(r) {
		t.Fatalf("status %d, ended %v", w.Code, ended(r))
	}
}

func TestFormPostWrongContentType(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, ct := range []string{"", "application/json", "multipart/form-data; boundary=x", "text/plain"} {
		w := serve(r, "POST", "/callback", q("code", "abc", "state", testState), ct)
		if w.Code != http.StatusUnsupportedMediaType || ended(r) {
			t.Fatalf("%q: status %d, ended %v", ct, w.Code, ended(r))
		}
	}
}

func TestFormPostBodyTooLarge(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	big := q("code", "abc", "state", testState, "pad", strings.Repeat("x", MaxBodyBytes))
	w := serve(r, "POST", "/callback", big, "application/x-www-form-urlencoded")
	if w.Code != http.StatusRequestEntityTooLarge || ended(r) {
		t.Fatalf("status %d, ended %v", w.Code, ended(r))
	}
}

// A form_post body of exactly MaxBodyBytes is read whole and accepted.
func TestFormPostBodyOfMaxBodyBytesAccepted(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	form := q("code", "abc", "state", testState, "zpad", "") // zpad sorts last
	form += strings.Repeat("x", MaxBodyBytes-len(form))
	w := serve(r, "POST", "/callback", form, "application/x-www-form-urlencoded")
	if w.Code != http.StatusOK {
		t.Fatalf("a body of MaxBodyBytes: status %d", w.Code)
	}
	if resp, err := waitNow(t, r); err != nil || resp.Code != "abc" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// A form_post whose body cannot be read is refused with 400 and does not end
// the wait.
func TestFormPostUnreadableBody(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	req := httptest.NewRequest("POST", "/callback", errReader{})
	req.Host = testHost
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	r.serveHTTP(w, req)
	if w.Code != http.StatusBadRequest || ended(r) || !strings.Contains(w.Body.String(), "could not be read") {
		t.Fatalf("status %d, ended %v: %s", w.Code, ended(r), w.Body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, m := range []string{"PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"} {
		w := serve(r, m, "/callback?"+q("code", "abc", "state", testState), "", "")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
			t.Fatalf("%s: status %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
	if ended(r) {
		t.Fatal("a refused method ended the wait")
	}
}

func TestNotFound(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, p := range []string{"/", "/favicon.ico", "/callback/", "/Callback", "/callbackx", "/robots.txt"} {
		w := serve(r, "GET", p+"?"+q("code", "abc", "state", testState), "", "")
		if w.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d", p, w.Code)
		}
	}
	if ended(r) {
		t.Fatal("a request to another path ended the wait")
	}
}

func TestWrongStateDoesNotEndWait(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, s := range []string{"wrong", testState + "x", testState[:len(testState)-1], strings.ToUpper(testState), ""} {
		w := get(r, q("code", "abc", "state", s))
		if w.Code != http.StatusBadRequest {
			t.Fatalf("state %q: status %d", s, w.Code)
		}
	}
	// An error response with a wrong state must not abort the login either.
	if w := get(r, q("error", "access_denied", "state", "attacker")); w.Code != http.StatusBadRequest {
		t.Fatalf("status %d", w.Code)
	}
	if ended(r) {
		t.Fatal("a wrong state ended the wait")
	}
	// The real response still gets through.
	get(r, q("code", "abc", "state", testState))
	if resp, err := waitNow(t, r); err != nil || resp.Code != "abc" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestMissingStateDoesNotEndWait(t *testing.T) {
	var outcomes []string
	r := newHandlerReceiver(t, Config{OnRequest: func(rq Request) { outcomes = append(outcomes, rq.Outcome) }})
	w := get(r, q("code", "abc"))
	if w.Code != http.StatusBadRequest || ended(r) {
		t.Fatalf("status %d, ended %v", w.Code, ended(r))
	}
	if len(outcomes) != 1 || outcomes[0] != OutcomeMissingState {
		t.Fatalf("outcomes %v", outcomes)
	}
}

func TestRepeatedParameters(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, query := range []string{
		"state=" + testState + "&state=" + testState + "&code=a",
		"state=" + testState + "&code=a&code=b",
		"state=" + testState + "&error=a&error=b",
		"state=" + testState + "&code=a&iss=x&iss=y",
	} {
		w := get(r, query)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("%s: status %d", query, w.Code)
		}
	}
	if ended(r) {
		t.Fatal("a response with repeated parameters ended the wait")
	}
}

func TestMalformedQuery(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, query := range []string{"state=%zz&code=a", "state=" + testState + ";code=a"} {
		if w := get(r, query); w.Code != http.StatusBadRequest {
			t.Fatalf("%s: status %d", query, w.Code)
		}
	}
	if ended(r) {
		t.Fatal("a malformed query ended the wait")
	}
}

func TestBadHostRefused(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	for _, host := range []string{"evil.example", "evil.example:5555", "127.0.0.1", "127.0.0.1:5556", "localhost:5555", "[::1]:5555", ""} {
		req := httptest.NewRequest("GET", "/callback?"+q("code", "abc", "state", testState), nil)
		req.Host = host
		w := httptest.NewRecorder()
		r.serveHTTP(w, req)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("Host %q: status %d", host, w.Code)
		}
	}
	if ended(r) {
		t.Fatal("a bad Host ended the wait")
	}
}

func TestLocalhostHostHeader(t *testing.T) {
	r := newReceiver(Config{State: testState}, "localhost", 5555)
	req := httptest.NewRequest("GET", "/callback?"+q("code", "abc", "state", testState), nil)
	req.Host = "127.0.0.1:5555"
	w := httptest.NewRecorder()
	r.serveHTTP(w, req)
	if w.Code != http.StatusBadRequest {
		t.Fatalf("IP Host on a localhost receiver: status %d", w.Code)
	}
	req.Host = "localhost:5555"
	w = httptest.NewRecorder()
	r.serveHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("localhost Host: status %d", w.Code)
	}
}

func TestAlreadyCompleted(t *testing.T) {
	var outcomes []string
	r := newHandlerReceiver(t, Config{OnRequest: func(rq Request) { outcomes = append(outcomes, rq.Outcome) }})
	get(r, q("code", "first", "state", testState))
	w := get(r, q("code", "second", "state", testState))
	if w.Code != http.StatusGone || !strings.Contains(w.Body.String(), "already finished") {
		t.Fatalf("status %d", w.Code)
	}
	if w := get(r, q("code", "x", "state", "wrong")); w.Code != http.StatusGone {
		t.Fatalf("status %d", w.Code)
	}
	resp, err := waitNow(t, r)
	if err != nil || resp.Code != "first" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
	want := []string{OutcomeAccepted, OutcomeAlreadyCompleted, OutcomeAlreadyCompleted}
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
}

func TestConcurrentValidResponses(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = get(r, q("code", "c", "state", testState)).Code
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == http.StatusOK {
			ok++
		} else if c != http.StatusGone {
			t.Fatalf("status %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d responses accepted, want 1", ok)
	}
	if _, err := waitNow(t, r); err != nil {
		t.Fatal(err)
	}
}

func TestErrorResponse(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	w := get(r, q("error", "access_denied", "error_description", "The user said no", "error_uri", "https://as.example/e",
		"state", testState, "iss", "https://as.example"))
	if !strings.Contains(w.Body.String(), "access_denied") || !strings.Contains(w.Body.String(), "The user said no") {
		t.Fatalf("page lacks the error: %s", w.Body)
	}
	resp, err := waitNow(t, r)
	var oe *oautherr.Error
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want *oautherr.Error", err)
	}
	if oe.Code != "access_denied" || oe.Description != "The user said no" || oe.URI != "https://as.example/e" || oe.Endpoint != "authorization" {
		t.Fatalf("oautherr = %+v", oe)
	}
	if resp == nil || resp.Issuer != "https://as.example" || resp.Code != "" {
		t.Fatalf("resp = %+v, want the Response with its Issuer", resp)
	}
	if !errors.Is(err, &oautherr.Error{Code: "access_denied"}) {
		t.Fatal("errors.Is by code fails")
	}
}

func TestErrorWinsOverCode(t *testing.T) {
	r := newHandlerReceiver(t, Config{})
	get(r, q("error", "server_error", "code", "abc", "state", testState))
	_, err := waitNow(t, r)
	var oe *oautherr.Error
	if !errors.As(err, &oe) || oe.Code != "server_error" {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformedValidStateEndsWait(t *testing.T) {
	for _, query := range []string{q("state", testState), q("state", testState, "code", "")} {
		r := newHandlerReceiver(t, Config{})
		w := get(r, query)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Sign-in failed") {
			t.Fatalf("%s: status %d", query, w.Code)
		}
		resp, err := waitNow(t, r)
		if !errors.Is(err, ErrMalformedResponse) || resp == nil {
			t.Fatalf("%s: resp %+v, err %v", query, resp, err)
		}
		if errors.Is(err, context.Canceled) {
			t.Fatal("malformed response reported as cancellation")
		}
	}
}

func TestOnRequestHasNoSecrets(t *testing.T) {
	var mu sync.Mutex
	var got []Request
	r := newHandlerReceiver(t, Config{OnRequest: func(rq Request) { mu.Lock(); got = append(got, rq); mu.Unlock() }})
	serve(r, "GET", "/favicon.ico", "", "")
	serve(r, "PUT", "/callback", "", "")
	get(r, q("code", "SECRETCODE", "state", "WRONGSTATE"))
	get(r, q("code", "SECRETCODE", "state", testState))
	want := []struct {
		path    string
		status  int
		outcome string
	}{{"/favicon.ico", 404, OutcomeNotFound}, {"/callback", 405, OutcomeMethodNotAllowed}, {"/callback", 400, OutcomeWrongState}, {"/callback", 200, OutcomeAccepted}}
	if len(got) != len(want) {
		t.Fatalf("got %d requests", len(got))
	}
	for i, rq := range got {
		if rq.Path != want[i].path || rq.Status != want[i].status || rq.Outcome != want[i].outcome {
			t.Errorf("request %d: %+v, want %+v", i, rq, want[i])
		}
		s := rq.Method + rq.Path + rq.RemoteAddr + rq.Outcome
		for _, secret := range []string{"SECRETCODE", "WRONGSTATE", testState} {
			if strings.Contains(s, secret) {
				t.Errorf("request %d leaks %q: %+v", i, secret, rq)
			}
		}
	}
	waitNow(t, r)
}
