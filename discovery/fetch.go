package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxBodySize is the largest metadata document discovery reads, in bytes.
// A larger body is refused, not truncated.
const MaxBodySize = 1 << 20

// maxRedirects is how many same-origin redirects a fetch follows.
const maxRedirects = 5

// isLoopbackHost reports whether host (without port or brackets) is
// localhost or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkSecure returns an error wrapping ErrInsecureURL unless u is https, or
// http on a loopback host.
func checkSecure(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: %s uses http on a host that is not loopback; use https", ErrInsecureURL, u.Redacted())
	default:
		return fmt.Errorf("%w: %s is not an http(s) URL", ErrInsecureURL, u.Redacted())
	}
}

// redirectError is returned by CheckRedirect; fetch turns it into a
// FetchError.
type redirectError struct {
	err error
}

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// fetchClient returns a copy of client (http.DefaultClient when nil) that
// keeps no cookies and follows only same-origin, secure redirects, after
// the client's own CheckRedirect (if any) allows them.
func fetchClient(client *http.Client) *http.Client {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.Jar = nil
	own := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return &redirectError{fmt.Errorf("%w: more than %d redirects", ErrCrossOriginRedirect, maxRedirects)}
		}
		if !sameOrigin(req.URL, via[0].URL) {
			return &redirectError{fmt.Errorf("%w: %s redirected to %s", ErrCrossOriginRedirect, via[0].URL.Redacted(), req.URL.Redacted())}
		}
		if err := checkSecure(req.URL); err != nil {
			return &redirectError{err}
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	return &c
}

// fetchJSON GETs u and returns the body of a 200 response whose body is a
// JSON object of at most MaxBodySize bytes. Any other outcome is a
// *FetchError. A canceled or expired ctx is returned as ctx.Err(), wrapped
// in a *FetchError.
func fetchJSON(ctx context.Context, c *http.Client, u *url.URL) ([]byte, error) {
	raw := u.String()
	if err := checkSecure(u); err != nil {
		return nil, &FetchError{URL: raw, Problem: "not fetched: the URL is neither https nor http on a loopback host; use https", Err: ErrInsecureURL}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, &FetchError{URL: raw, Problem: "cannot build the request", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		var re *redirectError
		if errors.As(err, &re) {
			problem := "redirected to another origin, which discovery does not follow; configure the final URL instead"
			if errors.Is(re.err, ErrInsecureURL) {
				problem = "redirected to an insecure URL; configure an https URL"
			} else if !errors.Is(re.err, ErrCrossOriginRedirect) {
				return nil, &FetchError{URL: raw, Problem: "redirect refused by the client", Err: re.err}
			}
			return nil, &FetchError{URL: raw, Problem: problem + " (" + re.err.Error() + ")", Err: unwrapSentinel(re.err)}
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, &FetchError{URL: raw, Problem: "request abandoned", Err: ctxErr}
		}
		return nil, &FetchError{URL: raw, Problem: "request failed", Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &FetchError{URL: raw, Status: resp.StatusCode, Problem: fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, &FetchError{URL: raw, Status: resp.StatusCode, Problem: "request abandoned", Err: ctxErr}
		}
		return nil, &FetchError{URL: raw, Status: resp.StatusCode, Problem: "reading the body failed", Err: unwrapURLError(err)}
	}
	if len(body) > MaxBodySize {
		return nil, &FetchError{URL: raw, Status: resp.StatusCode, Problem: fmt.Sprintf("body larger than %d bytes", MaxBodySize), Err: ErrInvalidMetadata}
	}
	if !isJSONObject(body) {
		return nil, &FetchError{URL: raw, Status: resp.StatusCode, Problem: "body is not a JSON object (Content-Type " + quoteShort(resp.Header.Get("Content-Type")) + ")", Err: ErrInvalidMetadata}
	}
	return body, nil
}

// unwrapSentinel returns the first of this package's sentinel errors that
// err wraps, or err.
func unwrapSentinel(err error) error {
	for _, s := range []error{ErrCrossOriginRedirect, ErrInsecureURL} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// unwrapURLError strips the *url.Error around err, whose message repeats the
// method and URL that FetchError already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// isJSONObject reports whether body is valid JSON whose top level is an
// object.
func isJSONObject(body []byte) bool {
	if !json.Valid(body) {
		return false
	}
	for _, b := range body {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// quoteShort quotes s for an error message, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
