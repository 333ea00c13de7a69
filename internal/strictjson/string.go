package strictjson

import "unicode/utf8"

// ReadString reads a string value, escape sequences decoded.
func (r *Reader) ReadString() string {
	s, esc := r.quoted()
	if r.off {
		return ""
	}
	if !esc {
		return string(s[1 : len(s)-1])
	}
	b, ok := unescape(s[1 : len(s)-1])
	if !ok {
		r.fail()
		return ""
	}
	return string(b)
}

// ReadQuoted reads a string value and returns it as written, quotes and
// escape sequences included: what encoding/json hands to the
// UnmarshalJSON method of a type such as time.Time. It is part of the
// input: it is valid while the input is.
func (r *Reader) ReadQuoted() []byte {
	s, _ := r.quoted()
	return s
}

// ReadStrings reads an array of strings. An empty array gives an empty
// slice, not nil, as encoding/json does.
func (r *Reader) ReadStrings() []string {
	if !r.BeginArray() {
		return nil
	}
	s := []string{}
	for r.Element() {
		s = append(s, r.ReadString())
	}
	if r.off {
		return nil
	}
	return s
}

// quoted reads a string value: its bytes as written, quotes included, and
// whether it holds an escape sequence.
func (r *Reader) quoted() (s []byte, esc bool) {
	c, ok := r.valueStart()
	if !ok {
		return nil, false
	}
	if c != '"' {
		r.fail()
		return nil, false
	}
	end, esc, ok := scanString(r.data, r.pos)
	if !ok {
		r.fail()
		return nil, false
	}
	s = r.data[r.pos:end]
	r.pos = end
	r.state = wantNext
	return s, esc
}

// keyString returns the current member's key, decoded.
func (r *Reader) keyString() string {
	if !r.keyEsc {
		return string(r.key)
	}
	b, ok := unescape(r.key)
	if !ok {
		r.fail()
		return ""
	}
	return string(b)
}

// scanString checks the string that starts with the quote at data[start]
// and returns the index just past its closing quote, and whether it holds
// an escape sequence. It refuses (ok false) what encoding/json refuses (a
// control character, a bad escape sequence, no closing quote) and what
// encoding/json would change as it decodes: invalid UTF-8 and escaped
// surrogates that are not a valid pair, which both become U+FFFD.
func scanString(data []byte, start int) (end int, esc, ok bool) {
	i := start + 1
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, esc, true
		case c < ' ':
			return 0, false, false
		case c == '\\':
			n := escapeLen(data[i:])
			if n == 0 {
				return 0, false, false
			}
			esc = true
			i += n
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, false, false
			}
			i += n
		}
	}
	return 0, false, false
}

// escapeLen returns the length of the escape sequence at the start of s
// (which starts with a backslash), a surrogate pair's two \u sequences
// counting as one; 0 for a bad one or a lone surrogate.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
	default:
		return 0
	}
	r, ok := hex4(s[2:])
	switch {
	case !ok:
		return 0
	case r < 0xD800 || r >= 0xE000:
		return 6
	case r >= 0xDC00: // a low surrogate first
		return 0
	}
	if len(s) < 12 || s[6] != '\\' || s[7] != 'u' {
		return 0
	}
	if r2, ok := hex4(s[8:]); !ok || r2 < 0xDC00 || r2 >= 0xE000 {
		return 0
	}
	return 12
}

// hex4 reads the four hexadecimal digits of a \u escape.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape decodes the escape sequences of a string's content (quotes
// excluded, checked by scanString) as encoding/json does; false for a bad
// escape sequence.
func unescape(s []byte) ([]byte, bool) {
	b := make([]byte, 0, len(s)) // decoding never lengthens
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		n := escapeLen(s[i:])
		switch {
		case n == 0:
			return nil, false
		case n == 2:
			b = append(b, unescapeByte(s[i+1]))
		case n == 6:
			r, _ := hex4(s[i+2:])
			b = utf8.AppendRune(b, r)
		default: // a surrogate pair
			hi, _ := hex4(s[i+2:])
			lo, _ := hex4(s[i+8:])
			b = utf8.AppendRune(b, 0x10000+(hi-0xD800)<<10+(lo-0xDC00))
		}
		i += n
	}
	return b, true
}

// unescapeByte returns the byte a two-byte escape sequence such as \n
// stands for, given its second byte.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\', '/'
}
