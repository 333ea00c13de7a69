package oauthtest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// maxBrowseSteps bounds how many forms Browse submits in one run.
const maxBrowseSteps = 10

// The markup written by pages.go, compiled on first use so that programs
// linking this package (the authloop command, for its demo) do not pay for
// it at every start.
var (
	formRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`<form method="post" action="([^"]*)" data-oauthtest="(form_post|consent)">`)
	})
	inputRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	})
)

// Browse acts like a browser whose user approves everything. It GETs
// authURL with client (nil means a fresh http.Client of its own, whose
// connections it closes before returning), follows redirects, including the
// one to the application's loopback redirect URI, and whenever it meets this
// package's form_post page or consent page, submits that form (choosing
// Approve). It returns the final response's status code and body, which is
// typically the redirect URI's page.
//
// Browse understands only pages served by this package; it runs no
// scripts. ctx bounds the whole run.
func Browse(ctx context.Context, client *http.Client, authURL string) (status int, body []byte, err error) {
	if client == nil {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("oauthtest: browse: %w", err)
	}
	for range maxBrowseSteps {
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, fmt.Errorf("oauthtest: browse: %w", err)
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			return resp.StatusCode, body, fmt.Errorf("oauthtest: browse: reading %s: %w", resp.Request.URL.Redacted(), err)
		}
		next, ok, err := nextForm(ctx, resp, body)
		if err != nil || !ok {
			return resp.StatusCode, body, err
		}
		req = next
	}
	return 0, nil, errors.New("oauthtest: browse: too many forms in a row")
}

// nextForm returns the request that submitting the page's form would send,
// if the page is one of ours.
func nextForm(ctx context.Context, resp *http.Response, body []byte) (*http.Request, bool, error) {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return nil, false, nil
	}
	m := formRE().FindSubmatch(body)
	if m == nil {
		return nil, false, nil
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return nil, false, fmt.Errorf("oauthtest: browse: bad form action: %w", err)
	}
	form := url.Values{}
	for _, in := range inputRE().FindAllSubmatch(body, -1) {
		form.Add(html.UnescapeString(string(in[1])), html.UnescapeString(string(in[2])))
	}
	if string(m[2]) == "consent" {
		form.Set("decision", "approve")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, false, fmt.Errorf("oauthtest: browse: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, true, nil
}
