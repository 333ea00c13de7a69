package urlrule

import "net/url"

// RedactURL returns raw without its user information, query and fragment,
// which may carry secrets, for an error message or a log line; an
// unparsable raw gives "(unparsable URL)", never raw itself.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// RedactURLError returns err with the URL of a *url.Error (which would
// repeat the request's URL with its query) replaced by RedactURL's form.
// Only err itself is looked at, not what it wraps; any other error is
// returned as it is.
func RedactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}
