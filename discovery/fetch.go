package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/authloop/authloop/internal/urlrule"
)

// MaxBodySize is the largest metadata document discovery reads, in bytes.
// A larger body is refused, not truncated.
const MaxBodySize = 1 << 20

// maxRedirects is how many same-origin redirects a fetch follows.
const maxRedirects = 5

// checkSecure returns an error wrapping ErrInsecureURL unless u is https, or
// http on a loopback host.
func checkSecure(u *url.URL) error {
	switch {
	case urlrule.HTTPSOrLoopback(u):
		return nil
	case strings.EqualFold(u.Scheme, "http"):
		return fmt.Errorf("%w: %s uses http on a host that is not loopback; use https", ErrInsecureURL, u.Redacted())
	default:
		return fmt.Errorf("%w: %s is not an http(s) URL", ErrInsecureURL, u.Redacted())
	}
}

// redirectError is returned by CheckRedirect; fetchJSON turns it into a
// FetchError with problem as its Problem and err as its Err.
type redirectError struct {
	problem string
	err     error
}

func (e *redirectError) Error() string { return e.problem }
func (e *redirectError) Unwrap() error { return e.err }

// fetchClient returns a copy of client (http.DefaultClient when nil) that
// keeps no cookies and follows at most maxRedirects redirects, only within
// the origin first asked for (so never from https to http), and only when
// the client's own CheckRedirect, if any, allows them too.
func fetchClient(client *http.Client) *http.Client {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.Jar = nil
	own := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return &redirectError{problem: fmt.Sprintf("more than %d redirects; configure the final URL instead", maxRedirects)}
		}
		if !urlrule.SameOrigin(req.URL, via[0].URL) {
			return &redirectError{
				problem: fmt.Sprintf("redirected to another origin (%s), which discovery does not follow; configure the final URL instead", req.URL.Redacted()),
				err:     ErrCrossOriginRedirect,
			}
		}
		if own != nil {
			if err := own(req, via); err != nil {
				return &redirectError{problem: "redirect refused by the client's CheckRedirect", err: err}
			}
		}
		return nil
	}
	return &c
}

// fetchJSON GETs u and returns the body of a 200 response whose body is a
// JSON object of at most MaxBodySize bytes, or a *FetchError saying why
// not. A canceled or expired ctx comes back wrapped in the FetchError.
func fetchJSON(ctx context.Context, c *http.Client, u *url.URL) ([]byte, *FetchError) {
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
			return nil, &FetchError{URL: raw, Problem: re.problem, Err: re.err}
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
