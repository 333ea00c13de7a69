package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Object reads one JSON object into its members, more strictly than
// encoding/json does: the text must be valid UTF-8 (encoding/json would
// replace bad bytes silently), a member name may appear once only (so that
// two readers cannot see two different "alg"s), names are matched exactly
// by the caller (encoding/json matches struct fields ignoring case), and
// nothing may follow the object.
func Object(data []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return nil, errors.New("not JSON")
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("not JSON")
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not JSON")
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("member %.40q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("not JSON")
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errors.New("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

// StringMember returns the string member name of m; present reports whether
// it was there at all. A member that is there but not a string is an error.
func StringMember(m map[string]json.RawMessage, name string) (v string, present bool, err error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil || (len(raw) > 0 && raw[0] != '"') {
		return "", true, fmt.Errorf("%q is not a string", name)
	}
	return v, true, nil
}

// MaxNumericDate bounds a NumericDate at the end of year 9999, so that a
// time.Time holds it and it prints in four digits.
const MaxNumericDate = 253402300799

// NumericDate reads a JWT NumericDate (RFC 7519 §2): seconds since the
// epoch, possibly with a fraction, from 0 to MaxNumericDate. A nil raw (the
// member is missing) is an error.
func NumericDate(raw json.RawMessage) (time.Time, error) {
	if raw == nil {
		return time.Time{}, errors.New("missing")
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || len(raw) == 0 || raw[0] == '"' {
		return time.Time{}, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > MaxNumericDate {
		return time.Time{}, errors.New("not a time between 1970 and 9999")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
