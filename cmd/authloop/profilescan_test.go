package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// checkProfileFastPath: if scanProfile accepts data, json.Unmarshal reads
// it without error to the same Profile. It reports whether scanProfile
// accepted it.
func checkProfileFastPath(t *testing.T, data []byte) bool {
	t.Helper()
	p, ok := scanProfile(data)
	if !ok {
		if !reflect.DeepEqual(p, Profile{}) {
			t.Fatalf("scanProfile refused a file but returned %+v", p)
		}
		return false
	}
	var want Profile
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("the fast path accepted a profile that encoding/json refuses (%v):\n%q", err, data)
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("the fast path read\n%q\nas\n%#v\nencoding/json as\n%#v", data, p, want)
	}
	return true
}

// FuzzProfileFastPath: what loadProfile's fast path accepts, it reads
// exactly as encoding/json does (checkProfileFastPath); and for any
// profile encoding/json reads, the file save would write for it takes the
// fast path.
func FuzzProfileFastPath(f *testing.F) {
	for _, v := range profileVariants(f) {
		f.Add([]byte(v.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkProfileFastPath(t, data)
		var p Profile
		if json.Unmarshal(data, &p) != nil {
			return
		}
		b, err := json.MarshalIndent(p, "", "  ") // as save writes it
		if err != nil {
			t.Fatal(err)
		}
		if !checkProfileFastPath(t, append(b, '\n')) {
			t.Fatalf("the fast path refuses the profile that save would write:\n%s", b)
		}
	})
}

// fullProfile has every field set.
func fullProfile() *Profile {
	return &Profile{
		Version: profileVersion, Name: "work", Issuer: "https://auth.example.com/tenant?a=1&b=<2>", Resource: "https://mcp.example.com/mcp",
		ClientID: "client-é", ClientSecretFile: "/home/u/.config/secret file", ClientSecretEnv: "AUTHLOOP_SECRET",
		Scopes: []string{"openid", "offline_access", "read:a&b"}, Port: 8123, LoginMode: "device", NoBrowser: true, DPoP: "off",
		Store: "keyring", RedisPasswordFile: "/home/u/.config/redis pw", RedisPasswordEnv: true, RedisSecretKeyFile: "/home/u/.config/redis-key", RedisSealed: true,
		GitHosts: []string{"git.example.com", "gitlab.example.com"}, GitUsername: "x-access-token",
		Grant: "enterprise", PrivateKeyFile: "/home/u/.config/ci key.pem", KeyID: "kid-1", AssertionAudience: "https://auth.example.com/token",
		JWTBearerTokenFile: "/var/run/secrets/tokens/wif", JWTBearerTokenEnv: "CI_OIDC_TOKEN",
		IDTokenFrom: "corp", IdPClientID: "idp-client", IdPIssuer: "https://idp.example.com", IdPTokenURL: "https://idp.example.com/token",
		IdPClientSecretFile: "/home/u/.config/idp secret", IdPClientSecretEnv: "IDP_SECRET",
	}
}

// TestFullProfileSetsEveryField keeps fullProfile complete: a field added
// to Profile must be set there, and so read by the fast path in the tests
// below (or they fail).
func TestFullProfileSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(*fullProfile())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullProfile leaves %s unset", v.Type().Field(i).Name)
		}
	}
}

// savedProfile returns the file that save writes for fullProfile.
func savedProfile(t testing.TB) []byte {
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "config"))
	p := fullProfile()
	if err := p.save(); err != nil {
		t.Fatal(err)
	}
	path, err := profilePath(p.Name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSavedProfileTakesFastPath: the profile that save writes is read
// without encoding/json, and loadProfile returns it as saved.
func TestSavedProfileTakesFastPath(t *testing.T) {
	b := savedProfile(t)
	if !checkProfileFastPath(t, b) {
		t.Fatalf("a saved profile takes the slow path:\n%s", b)
	}
	p, err := loadProfile("work")
	if err != nil || !reflect.DeepEqual(p, fullProfile()) {
		t.Errorf("loadProfile: %+v, %v", p, err)
	}
}

// TestLoginProfileTakesFastPath: the profile of a real `authloop login`
// is read without encoding/json.
func TestLoginProfileTakesFastPath(t *testing.T) {
	c := newCLI(t)
	srv := oauthtest.NewServer(oauthtest.Config{AccessTokenTTL: time.Hour})
	defer srv.Close()
	c.mustLogin(srv, "fast")
	b, err := os.ReadFile(filepath.Join(c.dir, "config", "authloop", "profiles", "fast.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !checkProfileFastPath(t, b) {
		t.Fatalf("the profile of a login takes the slow path:\n%s", b)
	}
}

type profileVariant struct {
	name string
	data string
	fast bool // read by the fast path
}

// profileVariants are a saved profile and variants of it, each with the
// path it should take.
func profileVariants(t testing.TB) []profileVariant {
	saved := string(savedProfile(t))
	edit := func(old, new string) string {
		if !strings.Contains(saved, old) {
			t.Fatalf("the saved profile has no %q:\n%s", old, saved)
		}
		return strings.Replace(saved, old, new, 1)
	}
	var compact strings.Builder
	if b, err := json.Marshal(fullProfile()); err == nil {
		compact.Write(b)
	}
	return []profileVariant{
		{"saved", saved, true},
		{"compact", compact.String(), true},
		{"empty", `{}`, true},
		{"empty lists", `{"scopes":[],"git_hosts":[]}`, true},
		{"newer version", edit(`"version": 1`, `"version": 2`), true},
		{"escapes", edit(`"git_username": "x-access-token"`, `"git_username": "x\"\\\/\b\f\n\r\t\u0026\u00e9\u2028\ud83d\ude00"`), true},
		{"port -0", edit(`"port": 8123`, `"port": -0`), true},

		{"duplicate", edit(`"store": "keyring"`, `"store": "keyring", "store": "file"`), false},
		{"duplicate dpop", edit(`"dpop": "off"`, `"dpop": "off", "dpop": "on"`), false},
		{"duplicate scopes", edit(`"store": "keyring"`, `"store": "keyring", "scopes": []`), false},
		{"key in another case", edit(`"store":`, `"Store":`), false},
		{"key matching with Unicode folding", edit(`"store":`, `"ſtore":`), false}, // encoding/json: U+017F matches s
		{"escaped key", edit(`"store":`, `"st\u006fre":`), false},
		{"unknown key", edit(`"store":`, `"x": 1, "store":`), false},
		{"null string", edit(`"store": "keyring"`, `"store": null`), false},
		{"null scopes", edit(`"store": "keyring"`, `"store": "keyring", "x": 1, "scopes": null`), false},
		{"null in scopes", edit(`"openid",`, `null,`), false},
		{"null bool", edit(`"no_browser": true`, `"no_browser": null`), false},
		{"port 1e2", edit(`"port": 8123`, `"port": 1e2`), false},
		{"port 1.0", edit(`"port": 8123`, `"port": 1.0`), false},
		{"port out of range", edit(`"port": 8123`, `"port": 9223372036854775808`), false},
		{"bool as a string", edit(`"no_browser": true`, `"no_browser": "true"`), false},
		{"lone surrogate", edit(`"store": "keyring"`, `"store": "\udc00"`), false},
		{"invalid UTF-8", edit(`"store": "keyring"`, "\"store\": \"k\xc3\""), false},
		{"deep", edit(`"store": "keyring"`, `"store": `+strings.Repeat("[", 100)+strings.Repeat("]", 100)), false},
		{"trailing data", saved + "x", false},
		{"truncated", saved[:len(saved)-3], false},
		{"null", `null`, false},
		{"array", `[]`, false},
	}
}

// TestProfileVariants: each variant takes the path it should, and
// decodeProfile reads it as json.Unmarshal does.
func TestProfileVariants(t *testing.T) {
	for _, v := range profileVariants(t) {
		if fast := checkProfileFastPath(t, []byte(v.data)); fast != v.fast {
			t.Errorf("%s: fast path %v, want %v:\n%s", v.name, fast, v.fast, v.data)
		}
		p, err := decodeProfile([]byte(v.data))
		var want Profile
		wantErr := json.Unmarshal([]byte(v.data), &want)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() || err == nil && !reflect.DeepEqual(p, want) {
			t.Errorf("%s: decodeProfile %+v, %v; json.Unmarshal %+v, %v", v.name, p, err, want, wantErr)
		}
	}
}
