//go:build unix

package assertion

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKey(t *testing.T, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.key")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestLoadSigner(t *testing.T) {
	key := testKeys()["ES384"].(*ecdsa.PrivateKey)
	pemPath := writeKey(t, pkcs8(t, key), 0o600)
	jwkPath := writeKey(t, privateJWK(t, key, map[string]string{"kid": "from-file"}), 0o400)
	thumb, err := NewSigner(key, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, keyID, want string
	}{
		{pemPath, "", thumb.KeyID()},
		{pemPath, "mine", "mine"},
		{jwkPath, "", "from-file"},
		{jwkPath, "mine", "mine"},
	} {
		s, err := LoadSigner(tc.path, tc.keyID)
		if err != nil {
			t.Fatal(err)
		}
		if s.KeyID() != tc.want || s.Algorithm() != "ES384" {
			t.Errorf("LoadSigner(%s, %q): kid %q alg %s, want %q ES384", filepath.Base(tc.path), tc.keyID, s.KeyID(), s.Algorithm(), tc.want)
		}
		jwt, err := s.ClientAssertion("c", "https://as.example", now)
		if err != nil {
			t.Fatal(err)
		}
		verifyJWS(t, jwt, &key.PublicKey, "ES384")
	}
}

func TestLoadSignerRefuses(t *testing.T) {
	key := testKeys()["ES256"]
	good := pkcs8(t, key)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"group-readable", writeKey(t, good, 0o640), "is open to its group or others (mode 0640); make it the owner's only: chmod 600 "},
		{"world-readable", writeKey(t, good, 0o604), "(mode 0604); make it the owner's only: chmod 600"},
		{"group-writable", writeKey(t, good, 0o620), "chmod 600"},
		{"missing", filepath.Join(t.TempDir(), "none.pem"), "no such file or directory; pass the path of the client's private key file"},
		{"too large", writeKey(t, append(good, make([]byte, MaxKeySize)...), 0o600), "more than the 65536"},
		{"not a key", writeKey(t, publicPEM(t, key), 0o600), "holds a PUBLIC KEY and no private key"},
		{"RSA 1024", writeKey(t, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024)), 0o600), "the key is RSA of 1024 bits, fewer than 2048"},
	} {
		s, err := LoadSigner(tc.path, "")
		if err == nil || s != nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "assertion: LoadSigner: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, err, tc.want)
		}
	}
}
