package assertion

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func sec1(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

func publicPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PUBLIC KEY", der)
}

func certPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"}, NotBefore: now, NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", der)
}

// ecParameters is the EC PARAMETERS block openssl ecparam -genkey writes
// before the key (the OID of P-256).
const ecParameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

type keyEqual interface{ Equal(crypto.PrivateKey) bool }

// Every form of every key reads back to the same key, and a JWK's kid
// comes with it.
func TestParsePrivateKeyRoundTrips(t *testing.T) {
	keys := testKeys()
	type form struct {
		name, kid string
		data      []byte
		key       crypto.Signer
	}
	var forms []form
	for _, alg := range algs {
		k := keys[alg]
		forms = append(forms,
			form{alg + " PKCS#8", "", pkcs8(t, k), k},
			form{alg + " PKCS#8 with CRLF and spaces", "", append([]byte("\r\n  "), bytes.ReplaceAll(pkcs8(t, k), []byte("\n"), []byte("\r\n"))...), k},
			form{alg + " PKCS#8 with its certificate", "", append(certPEM(t, k), pkcs8(t, k)...), k},
			form{alg + " JWK", "", privateJWK(t, k, nil), k},
			form{alg + " JWK with kid, alg, use", "kid-" + alg, privateJWK(t, k, map[string]string{"kid": "kid-" + alg, "alg": alg, "use": "sig"}), k},
			form{alg + " JWK Set of one", "s", []byte(`{"keys":[` + string(privateJWK(t, k, map[string]string{"kid": "s"})) + `]}`), k},
		)
		switch k := k.(type) {
		case *rsa.PrivateKey:
			forms = append(forms,
				form{"PKCS#1", "", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)), k},
				form{"RSA JWK without dp, dq, qi", "", privateJWK(t, k, map[string]string{"dp": "", "dq": "", "qi": ""}), k})
		case *ecdsa.PrivateKey:
			forms = append(forms, form{alg + " SEC1", "", sec1(t, k), k})
			if alg == "ES256" {
				forms = append(forms, form{"SEC1 after EC PARAMETERS", "", append([]byte(ecParameters), sec1(t, k)...), k})
			}
		}
	}
	for _, f := range forms {
		key, kid, err := ParsePrivateKey(f.data)
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		if kid != f.kid || !key.(keyEqual).Equal(f.key) {
			t.Errorf("%s: read kid %q and another key", f.name, kid)
		}
	}
}

// block returns a PEM block of typ with headers and some bytes.
func block(typ string, headers map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: []byte("0123456789abcdef")})
}

func TestParsePrivateKeyRefuses(t *testing.T) {
	keys := testKeys()
	ec := keys["ES256"].(*ecdsa.PrivateKey)
	ecPEM := pkcs8(t, ec)
	rsaKey := keys["RS256"].(*rsa.PrivateKey)
	rsaJWK := func(extra map[string]string) []byte { return privateJWK(t, rsaKey, extra) }
	ecJWK := func(extra map[string]string) []byte { return privateJWK(t, ec, extra) }
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherJWK := privateJWK(t, other, nil)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", []byte(" \n"), "the key is empty"},
		{"too large", append(ecPEM, bytes.Repeat([]byte(" "), MaxKeySize)...), "more than the 65536"},
		{"encrypted PKCS#8", block("ENCRYPTED PRIVATE KEY", nil), "encrypted (PKCS#8 with a passphrase); decrypt it into a file of mode 600: openssl pkcs8 -in KEY.pem -out PLAIN.pem"},
		{"encrypted PKCS#1", block("RSA PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}), "encrypted (a passphrase in PEM headers); decrypt it into a file of mode 600: openssl pkey -in KEY.pem -out PLAIN.pem"},
		{"public key only", publicPEM(t, ec), "holds a PUBLIC KEY and no private key; pass the private key"},
		{"certificate only", certPEM(t, ec), "holds a CERTIFICATE and no private key"},
		{"EC PARAMETERS only", []byte(ecParameters), "holds no private key"},
		{"two keys", append(append([]byte(nil), ecPEM...), pkcs8(t, other)...), "holds 2 private keys; keep the one to sign with"},
		{"trailing garbage", append(append([]byte(nil), ecPEM...), "garbage"...), "text that is not PEM follows PEM block 1; remove it"},
		{"garbage before", append([]byte("Bag Attributes\n"), ecPEM...), "neither PEM"},
		{"garbage between", append(append(append([]byte(nil), ecParameters...), "x\n"...), ecPEM...), "text that is not PEM follows PEM block 1"},
		{"damaged base64", bytes.Replace(ecPEM, []byte("\n"), []byte("\n!"), 2), "PEM block 1 is damaged"},
		{"no END line", ecPEM[:len(ecPEM)-30], "PEM block 1 is damaged"},
		{"damaged block before a good one", append([]byte("-----BEGIN PRIVATE KEY-----\n!!\n"), ecPEM...), "PEM block 1 is damaged"},
		{"PKCS#8 not a key", block("PRIVATE KEY", nil), "the PRIVATE KEY block does not parse as a PKCS#8 private key"},
		{"PKCS#1 not a key", block("RSA PRIVATE KEY", nil), "does not parse as a PKCS#1 RSA private key"},
		{"SEC1 not a key", block("EC PRIVATE KEY", nil), "does not parse as a SEC1 EC private key"},
		{"OpenSSH", block("OPENSSH PRIVATE KEY", nil), "OpenSSH's format; convert a copy of an RSA or ECDSA key to PKCS#8 (ssh-keygen -p -m PKCS8"},
		{"DSA", block("DSA PRIVATE KEY", nil), "the key is DSA; use one of"},
		{"other block", block("X509 CRL", nil), `a block of type "X509 CRL" is not a private key`},
		{"DER", func() []byte { d, _ := x509.MarshalPKCS8PrivateKey(ec); return d }(), "looks like DER: convert it with openssl pkey -inform DER"},
		{"OpenSSH public key", []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB client"), "an OpenSSH public key; pass the private key"},
		{"JSON not an object", []byte(`{"kty":`), "the JWK is not a JSON object"},
		{"JWK with trailing data", append(ecJWK(nil), "{}"...), "data after the JSON object"},
		{"JWK member twice", []byte(`{"kty":"EC","kty":"RSA"}`), `member "kty" appears twice`},
		{"public JWK", ecJWK(map[string]string{"d": ""}), `the JWK has no "d": it is a public key`},
		{"symmetric JWK", []byte(`{"kty":"oct","k":"c2VjcmV0"}`), "a symmetric key (kty oct)"},
		{"unknown kty", []byte(`{"kty":"DSA","d":"AA"}`), `the JWK's kty is "DSA"`},
		{"JWK Set of two", []byte(`{"keys":[` + string(ecJWK(nil)) + `,` + string(otherJWK) + `]}`), "the JWK Set holds 2 keys"},
		{"JWK Set of none", []byte(`{"keys":[]}`), "the JWK Set holds 0 keys"},
		{"JWK Set keys not an array", []byte(`{"keys":{}}`), `"keys" is not an array`},
		{"EC x of 1 byte", ecJWK(map[string]string{"x": "AA"}), `"x" is 1 bytes, not 32`},
		{"EC public part of another key", ecJWK(map[string]string{"x": jwkMember(t, otherJWK, "x"), "y": jwkMember(t, otherJWK, "y")}), `"x" and "y" are not the public key of "d"`},
		{"EC d of 31 bytes", ecJWK(map[string]string{"d": "AAAA"}), `"d" is 3 bytes, not 32`},
		{"EC d zero", ecJWK(map[string]string{"d": strings.Repeat("A", 43)}), `"d" is not a private key on P-256`},
		{"EC P-224", []byte(`{"kty":"EC","crv":"P-224","d":"AA"}`), `crv is "P-224"`},
		{"EC d padded", ecJWK(map[string]string{"d": jwkMember(t, ecJWK(nil), "d") + "="}), `"d" is not base64url without padding`},
		{"EC d a number", []byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":1}`), `"x" is 1 bytes, not 32`},
		{"EC alg of another", ecJWK(map[string]string{"alg": "ES384"}), `the JWK's alg is "ES384", and this key signs ES256 here; set alg to ES256 or remove it`},
		{"RSA alg PS256", rsaJWK(map[string]string{"alg": "PS256"}), `the JWK's alg is "PS256", and this key signs RS256 here`},
		{"use enc", ecJWK(map[string]string{"use": "enc"}), `the JWK's use is "enc", not "sig"`},
		{"RSA without p", rsaJWK(map[string]string{"p": ""}), `"p" is missing; export the whole private key`},
		{"RSA multi-prime", rsaJWK(map[string]string{"oth": "x"}), `it has "oth"`},
		{"RSA d of another key", rsaJWK(map[string]string{"d": "AQAB"}), "n, e, d, p and q do not make one RSA key"},
		{"RSA dp wrong", rsaJWK(map[string]string{"dp": "AQAB"}), `"dp" does not agree with p, q and d`},
		{"RSA qi wrong", rsaJWK(map[string]string{"qi": "AQAB"}), `"qi" does not agree with p, q and d`},
		{"RSA e huge", rsaJWK(map[string]string{"e": strings.Repeat("_", 12)}), `"e" is too large`},
		{"RSA n huge", rsaJWK(map[string]string{"n": strings.Repeat("_", 2800)}), "more than 16384"},
		{"OKP X25519", []byte(`{"kty":"OKP","crv":"X25519","x":"AA","d":"AA"}`), `crv is "X25519"; of OKP keys only Ed25519 signs here`},
		{"OKP x of another", []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + strings.Repeat("A", 43) + `","d":"` + rfc8037D + `"}`), `"x" is not the public key of "d"`},
		{"OKP kid a number", []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","d":"` + rfc8037D + `","kid":7}`), `the JWK's "kid" is not a string`},
		{"neither", []byte("hello"), "neither PEM"},
	} {
		key, kid, err := ParsePrivateKey(tc.data)
		if err == nil || key != nil || kid != "" {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "assertion: ParsePrivateKey: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want %q", tc.name, msg, tc.want)
		}
		for _, secret := range []string{jwkMember(t, ecJWK(nil), "d"), jwkMember(t, rsaJWK(nil), "d"), jwkMember(t, rsaJWK(nil), "p"), rfc8037D, string(ecPEM[30:60])} {
			if strings.Contains(msg, secret[:16]) {
				t.Errorf("%s: the error quotes the key: %q", tc.name, msg)
			}
		}
	}
}

// jwkMember is the string member name of a JWK.
func jwkMember(t testing.TB, jwk []byte, name string) string {
	t.Helper()
	m := publicMembers(t, jwk)
	return m[name]
}

func publicMembers(t testing.TB, jwk []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(string(jwk), "{}"), ",") {
		k, v, _ := strings.Cut(kv, ":")
		m[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
	}
	return m
}

// The RFC 8037 example key reads as a JWK, and its d is Ed25519's seed.
func TestParsePrivateKeyRFC8037(t *testing.T) {
	key, kid, err := ParsePrivateKey([]byte(`{"kty":"OKP","crv":"Ed25519","d":"` + rfc8037D + `","x":"` + rfc8037X + `"}`))
	if err != nil || kid != "" {
		t.Fatal(kid, err)
	}
	if !key.(ed25519.PrivateKey).Equal(ed25519.NewKeyFromSeed(unb64(t, rfc8037D))) {
		t.Fatal("another key")
	}
}

// Files that openssl 3.0 and ssh-keygen wrote (kept in the fuzz corpus) read
// or are refused as they should be.
func TestParsePrivateKeyToolFiles(t *testing.T) {
	for name, want := range map[string]string{
		"openssl-r.pem":     "", // openssl genpkey -algorithm RSA: PKCS#8
		"openssl-ecp.pem":   "", // openssl ecparam -genkey: EC PARAMETERS, then SEC1
		"openssl-sshe":      "", // ssh-keygen -t ecdsa, then -p -m PKCS8
		"openssl-sshr":      "", // ssh-keygen -t rsa, then -p -m PKCS8
		"openssl-enc.pem":   "openssl pkcs8 -in KEY.pem -out PLAIN.pem",
		"openssl-rtrad.pem": "openssl pkey -in KEY.pem -out PLAIN.pem",
		"openssl-sshk":      "OpenSSH's format",
	} {
		raw, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzParsePrivateKey", name))
		if err != nil {
			t.Fatal(err)
		}
		_, lit, _ := strings.Cut(strings.TrimSpace(string(raw)), "[]byte(")
		data, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		key, _, err := ParsePrivateKey([]byte(data))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case want == "" && key != nil:
			if _, err := NewSigner(key, ""); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
}
