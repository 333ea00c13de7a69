package assertion

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func jwtOf(header, claims, sig string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(claims)) + "." + sig
}

func TestExpiry(t *testing.T) {
	h := `{"alg":"RS256","kid":"k"}`
	for _, tc := range []struct {
		name string
		jwt  string
		want time.Time
		ok   bool
	}{
		{"exp", jwtOf(h, `{"iss":"i","exp":1800000000}`, "c2ln"), time.Unix(1_800_000_000, 0), true},
		{"fraction", jwtOf(h, `{"exp":1800000000.5}`, ""), time.Unix(1_800_000_000, 500_000_000), true},
		{"exponent", jwtOf(h, `{"exp":1.8e9}`, "c2ln"), time.Unix(1_800_000_000, 0), true},
		{"zero", jwtOf(h, `{"exp":0}`, "c2ln"), time.Unix(0, 0), true},
		{"end of 9999", jwtOf(h, `{"exp":253402300799}`, "c2ln"), time.Unix(253402300799, 0), true},
		{"after 9999", jwtOf(h, `{"exp":253402300800}`, "c2ln"), time.Time{}, false},
		{"negative", jwtOf(h, `{"exp":-1}`, "c2ln"), time.Time{}, false},
		{"string", jwtOf(h, `{"exp":"1800000000"}`, "c2ln"), time.Time{}, false},
		{"no exp", jwtOf(h, `{"iat":1800000000}`, "c2ln"), time.Time{}, false},
		{"exp twice", jwtOf(h, `{"exp":1,"exp":1800000000}`, "c2ln"), time.Time{}, false},
		{"claims not JSON", jwtOf(h, `exp=1`, "c2ln"), time.Time{}, false},
		{"claims an array", jwtOf(h, `[1]`, "c2ln"), time.Time{}, false},
		{"header not JSON", jwtOf(`alg`, `{"exp":1}`, "c2ln"), time.Time{}, false},
		{"header not UTF-8", jwtOf("{\"a\":\"\xff\"}", `{"exp":1}`, "c2ln"), time.Time{}, false},
		{"padded claims", strings.Replace(jwtOf(h, `{"exp":1}`, "c2ln"), ".", "=.", 2), time.Time{}, false},
		{"signature not base64url", jwtOf(h, `{"exp":1}`, "c2+n"), time.Time{}, false},
		{"two parts", strings.Join(strings.Split(jwtOf(h, `{"exp":1}`, "x"), ".")[:2], "."), time.Time{}, false},
		{"JWE's five parts", jwtOf(h, `{"exp":1}`, "c2ln") + ".a.b", time.Time{}, false},
		{"empty", "", time.Time{}, false},
		{"too large", jwtOf(h, `{"exp":1800000000,"x":"`+strings.Repeat("a", MaxJWTSize)+`"}`, "c2ln"), time.Time{}, false},
	} {
		got, ok := Expiry(tc.jwt)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: Expiry = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	// At the bound: a JWT of MaxJWTSize bytes is read.
	var jwt string
	for n := MaxJWTSize * 3 / 4; len(jwt) != MaxJWTSize && n > 0; n-- {
		for _, sig := range []string{"", "AA", "AAA"} {
			if jwt = jwtOf(h, `{"exp":1,"x":"`+strings.Repeat("a", n)+`"}`, sig); len(jwt) == MaxJWTSize {
				break
			}
		}
	}
	if _, ok := Expiry(jwt); !ok || len(jwt) != MaxJWTSize {
		t.Errorf("a JWT of MaxJWTSize bytes refused")
	}
}
