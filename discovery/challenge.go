package discovery

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1): an authentication scheme with either auth parameters or a
// token68.
type Challenge struct {
	// Scheme is the authentication scheme as sent, such as "Bearer"; it is
	// never empty and consists of token characters. Compare it with
	// strings.EqualFold: schemes are case-insensitive.
	Scheme string
	// Params holds the auth parameters by lower-cased name, with quoted
	// strings unquoted. Nil when there are none.
	Params map[string]string
	// Token68 is the token68 form of the credentials request (as in
	// "Negotiate abc=="), or "".
	Token68 string
}

// Param returns the value of the auth parameter name (case-insensitive),
// or "".
func (c Challenge) Param(name string) string {
	return c.Params[strings.ToLower(name)]
}

// ErrorCode returns the error parameter (RFC 6750 §3.1), such as
// "invalid_token" or "insufficient_scope", or "". It is not called Error so
// that a Challenge is not mistaken for a Go error.
func (c Challenge) ErrorCode() string { return c.Param("error") }

// ErrorDescription returns the error_description parameter, or "".
func (c Challenge) ErrorDescription() string { return c.Param("error_description") }

// Scope returns the scopes of the scope parameter (RFC 6750 §3), split on
// spaces, or nil.
func (c Challenge) Scope() []string {
	f := strings.Fields(c.Param("scope"))
	if len(f) == 0 {
		return nil
	}
	return f
}

// ResourceMetadata returns the resource_metadata parameter (RFC 9728 §5.1),
// the URL of the protected resource's metadata, or "".
func (c Challenge) ResourceMetadata() string { return c.Param("resource_metadata") }

// String formats the challenge as it would appear in a WWW-Authenticate
// header, with parameters sorted by name and every value a quoted string.
// Parsing the result gives back c, for any c that ParseWWWAuthenticate
// returned.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteByte(' ')
		b.WriteString(c.Token68)
		return b.String()
	}
	names := make([]string, 0, len(c.Params))
	for n := range c.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteString(`="`)
		v := c.Params[n]
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// BearerChallenge returns the first Bearer challenge (scheme compared
// case-insensitively) of the WWW-Authenticate fields of h, and whether there
// was one. Malformed parts of the fields are skipped.
func BearerChallenge(h http.Header) (Challenge, bool) {
	cs, _ := ParseWWWAuthenticate(h.Values("WWW-Authenticate")...)
	for _, c := range cs {
		if strings.EqualFold(c.Scheme, "Bearer") {
			return c, true
		}
	}
	return Challenge{}, false
}

// ParseWWWAuthenticate parses the values of one or more WWW-Authenticate
// header fields, each holding one or more comma-separated challenges, and
// returns the challenges in order.
//
// It follows RFC 9110 §11.6.1 and is tolerant: whitespace around "=" and
// commas, empty list elements, case in parameter names (which are
// lower-cased), quoted strings with backslash escapes and commas inside,
// unquoted values that are not tokens (such as bare URLs), and empty values
// are all accepted. Where a value could be a token68 or a parameter
// (Negotiate abc=), it is read as a parameter only when another parameter
// follows it.
//
// A part it cannot make sense of (a stray character, an unterminated
// quoted string, a control character in a value) is skipped up to the next
// comma, and the other challenges are still returned, with a non-nil error
// describing the first such part. A repeated parameter keeps its first
// value and is reported the same way. It never panics, whatever the input.
func ParseWWWAuthenticate(headers ...string) ([]Challenge, error) {
	p := &challengeParser{}
	for _, h := range headers {
		p.s, p.i = h, 0
		p.parse()
	}
	if p.problem != "" {
		return p.out, fmt.Errorf("discovery: malformed WWW-Authenticate header: %s; the other challenges were kept", p.problem)
	}
	return p.out, nil
}

type challengeParser struct {
	s       string
	i       int
	out     []Challenge
	problem string
}

func (p *challengeParser) fail(format string, args ...any) {
	if p.problem == "" {
		p.problem = fmt.Sprintf(format, args...)
	}
}

// isTchar reports whether b is a token character (RFC 9110 §5.6.2).
func isTchar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// isToken68Char reports whether b may appear in a token68 before its
// trailing "=" padding.
func isToken68Char(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", b) >= 0
}

// isCTL reports whether b is a control character other than HTAB.
func isCTL(b byte) bool { return (b < 0x20 && b != '\t') || b == 0x7f }

func (p *challengeParser) skipOWS(i int) int {
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t') {
		i++
	}
	return i
}

func (p *challengeParser) skipOWSAndCommas(i int) int {
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t' || p.s[i] == ',') {
		i++
	}
	return i
}

func (p *challengeParser) scanToken(i int) int {
	for i < len(p.s) && isTchar(p.s[i]) {
		i++
	}
	return i
}

// skipToComma returns the index of the next comma outside a quoted string
// at or after i, or len(s).
func (p *challengeParser) skipToComma(i int) int {
	inQuote := false
	for ; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			return i
		}
	}
	return i
}

// paramAt reports whether an auth-param (token BWS "=") starts at i, with a
// "=" that is not the start of token68 padding ("==").
func (p *challengeParser) paramAt(i int) bool {
	j := p.scanToken(i)
	if j == i {
		return false
	}
	k := p.skipOWS(j)
	if k >= len(p.s) || p.s[k] != '=' {
		return false
	}
	return k+1 >= len(p.s) || p.s[k+1] != '='
}

// firstIsParam decides whether the first item after a scheme, at i, is an
// auth-param or a token68.
func (p *challengeParser) firstIsParam(i int) bool {
	if !p.paramAt(i) {
		return false
	}
	j := p.scanToken(i)
	k := p.skipOWS(j)
	m := p.skipOWS(k + 1)
	if m < len(p.s) && p.s[m] != ',' {
		return true // name=value
	}
	// name= followed by the end or a comma: a token68 with one "=" of
	// padding, unless it has spaces around "=", characters a token68
	// cannot have, or another parameter follows.
	if k != j || strings.IndexFunc(p.s[i:j], func(r rune) bool { return r > 0x7f || !isToken68Char(byte(r)) }) >= 0 {
		return true
	}
	return m < len(p.s) && p.paramAt(p.skipOWSAndCommas(m))
}

// parse reads the challenges of p.s.
func (p *challengeParser) parse() {
	for {
		p.i = p.skipOWSAndCommas(p.i)
		if p.i >= len(p.s) {
			return
		}
		j := p.scanToken(p.i)
		if j == p.i {
			p.fail("unexpected %q at offset %d", p.s[p.i], p.i)
			p.i = p.skipToComma(p.i)
			continue
		}
		c := Challenge{Scheme: p.s[p.i:j]}
		k := p.skipOWS(j)
		switch {
		case k >= len(p.s) || p.s[k] == ',':
			p.out = append(p.out, c)
			p.i = k
			continue
		case k == j:
			p.fail("unexpected %q after scheme %q", p.s[k], c.Scheme)
			p.i = p.skipToComma(k)
			continue
		}
		p.i = k
		if p.firstIsParam(p.i) {
			p.params(&c)
		} else {
			p.token68(&c)
		}
		p.out = append(p.out, c)
	}
}

// token68 reads a token68 at p.i and what may follow it up to the next
// challenge.
func (p *challengeParser) token68(c *Challenge) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		p.fail("unexpected %q in challenge %q", p.s[p.i], c.Scheme)
		p.i = p.skipToComma(p.i)
		return
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	k := p.skipOWS(j)
	if k < len(p.s) && p.s[k] != ',' {
		p.fail("unexpected %q after the token68 of challenge %q", p.s[k], c.Scheme)
		p.i = p.skipToComma(k)
		return
	}
	c.Token68 = p.s[p.i:j]
	p.i = k
}

// params reads the auth-params of c, starting at p.i where paramAt is true,
// and stops before the comma that precedes the next challenge.
func (p *challengeParser) params(c *Challenge) {
	for {
		j := p.scanToken(p.i)
		name := strings.ToLower(p.s[p.i:j])
		k := p.skipOWS(p.skipOWS(j) + 1) // past "="
		value, end, ok := p.value(k)
		if ok {
			if _, dup := c.Params[name]; dup {
				p.fail("parameter %q repeated in challenge %q", name, c.Scheme)
			} else {
				if c.Params == nil {
					c.Params = make(map[string]string)
				}
				c.Params[name] = value
			}
		}
		p.i = p.skipOWS(end)
		if p.i < len(p.s) && p.s[p.i] != ',' {
			p.fail("unexpected %q after parameter %q of challenge %q", p.s[p.i], name, c.Scheme)
			p.i = p.skipToComma(p.i)
		}
		if p.i >= len(p.s) {
			return
		}
		next := p.skipOWSAndCommas(p.i)
		if next >= len(p.s) || !p.paramAt(next) {
			return
		}
		p.i = next
	}
}

// value reads a parameter value at i: a quoted string, or the run of
// characters up to whitespace or a comma. It returns the value, the index
// after it, and false when the value was malformed (and is to be dropped).
func (p *challengeParser) value(i int) (string, int, bool) {
	if i < len(p.s) && p.s[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(p.s); j++ {
			ch := p.s[j]
			switch {
			case ch == '"':
				return b.String(), j + 1, true
			case ch == '\\' && j+1 < len(p.s):
				j++
				ch = p.s[j]
			}
			if isCTL(ch) {
				p.fail("control character in a quoted string at offset %d", j)
				return "", p.skipToCommaFrom(j), false
			}
			b.WriteByte(ch)
		}
		p.fail("unterminated quoted string at offset %d", i)
		return "", len(p.s), false
	}
	j := i
	for j < len(p.s) && p.s[j] != ',' && p.s[j] != ' ' && p.s[j] != '\t' {
		if p.s[j] == '"' || isCTL(p.s[j]) {
			p.fail("unexpected %q in an unquoted value at offset %d", p.s[j], j)
			return "", p.skipToComma(j), false
		}
		j++
	}
	return p.s[i:j], j, true
}

// skipToCommaFrom returns the index of the next comma after the quoted
// string that contains index j (which is inside it).
func (p *challengeParser) skipToCommaFrom(j int) int {
	for ; j < len(p.s); j++ {
		switch p.s[j] {
		case '\\':
			j++
		case '"':
			return p.skipToComma(j + 1)
		}
	}
	return j
}
