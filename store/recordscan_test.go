package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/internal/strictjson"
)

// checkFastPath checks decodeRecordFile's fast path on data: if
// scanRecordFile accepts it, encoding/json reads it without error to the
// same recordFile, and decodeRecordFile returns what decodeRecordFileJSON
// returns, record or error. It reports whether the fast path accepted it.
func checkFastPath(t *testing.T, data []byte) bool {
	t.Helper()
	fast, ok := scanRecordFile(data)
	if !ok {
		if fast != nil {
			t.Fatal("scanRecordFile refused a file but returned a record")
		}
		return false
	}
	var ref struct {
		Schema *int `json:"schema"`
		recordFile
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("the fast path accepted a file that encoding/json refuses (%v):\n%q", err, data)
	}
	if ref.Schema == nil {
		t.Fatalf("the fast path accepted a file without a schema:\n%q", data)
	}
	ref.recordFile.Schema = *ref.Schema
	if !reflect.DeepEqual(fast, &ref.recordFile) {
		t.Fatalf("the fast path read\n%q\nas\n%#v\nencoding/json as\n%#v", data, fast, &ref.recordFile)
	}
	got, gotErr := decodeRecordFile(data)
	want, wantErr := decodeRecordFileJSON(data)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecordFile of\n%q\ngave %v, %v\nencoding/json %v, %v", data, got, gotErr, want, wantErr)
	}
	return true
}

// checkWrittenBack checks the fast path on what Save would write for the
// record in data: if decodeRecordFileJSON accepts data, encodeRecordFile's
// bytes for it take the fast path (unless the record holds what the fast
// path cannot read, see fastReadable) and are read as encoding/json reads
// them. So any input encoding/json reads becomes a test of the fast path
// on the form we write.
func checkWrittenBack(t *testing.T, data []byte) {
	t.Helper()
	rf, err := decodeRecordFileJSON(data)
	if err != nil {
		return
	}
	enc, err := encodeRecordFile(rf)
	if err != nil {
		t.Fatalf("a decoded record does not encode: %v", err)
	}
	if !checkFastPath(t, enc) && fastReadable(rf.Record) {
		t.Fatalf("the fast path refuses the record file that encodeRecordFile wrote:\n%q", enc)
	}
}

// fastReadable reports whether the fast path can read rec as written:
// its raw metadata neither null nor refused by strictjson (encodeRecordFile
// writes it as it is, invalid UTF-8 and lone surrogates included), and
// nothing nested deeper than strictjson.MaxDepth in the file.
func fastReadable(rec *Record) bool {
	raw := func(m json.RawMessage, depth int) bool {
		if len(m) == 0 {
			return true
		}
		r := strictjson.NewReader(m)
		r.Skip()
		var v any
		return m[0] != 'n' && r.Done() && json.Unmarshal(m, &v) == nil && depth+nesting(v) <= strictjson.MaxDepth
	}
	ok := raw(rec.Metadata, 2) // in the file, in the record
	if rec.Client != nil {
		ok = ok && raw(rec.Client.Metadata, 3) // in the file, the record, the client
	}
	if rec.Token != nil && rec.Token.Extra != nil {
		ok = ok && 3+nesting(rec.Token.Extra) <= strictjson.MaxDepth // in the file, the record, the token
	}
	return ok
}

// nesting returns how deep objects and arrays nest in a decoded value: 0
// for a scalar, 1 for {} or [].
func nesting(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, nesting(e))
		}
	case []any:
		for _, e := range v {
			d = max(d, nesting(e))
		}
	default:
		return 0
	}
	return d + 1
}

// FuzzRecordFileFastPath: what decodeRecordFile's fast path accepts, it
// reads exactly as encoding/json does (checkFastPath), and it accepts the
// file Save writes for any record encoding/json reads (checkWrittenBack).
func FuzzRecordFileFastPath(f *testing.F) {
	for _, seed := range recordFileVariants(f) {
		f.Add([]byte(seed.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastPath(t, data)
		checkWrittenBack(t, data)
	})
}

// realisticRecord has every field set, Extra and Metadata as a login
// leaves them.
func realisticRecord() *Record {
	iss := "https://auth.example.com/tenant?a=1&b=2"
	return &Record{
		Key:        Key{Issuer: iss, ClientID: "client-é", Resource: "https://mcp.example.com/mcp", Account: "work", Grant: "client_credentials"},
		Generation: 7,
		Token: &Token{
			AccessToken:   "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
			TokenType:     "Bearer",
			RefreshToken:  "FZKFVqGAh3NMKNWKid_FBfsP4pszwrIf7Bg0c7JT7fc",
			Expiry:        time.Date(2026, 11, 28, 10, 56, 48, 836651418, time.UTC),
			ExpiresIn:     86400,
			RefreshExpiry: time.Date(2026, 12, 28, 10, 56, 48, 0, time.FixedZone("", 5*3600+30*60)),
			Extra: map[string]any{
				"expires_in": 86400.0, "id_token": "eyJ.eyJ.sig", "scope": "openid offline_access", "token_type": "Bearer",
				"authloop_issuer": iss, "nested": map[string]any{"list": []any{1.5, -2.0, true, false, nil, "x\n\"y\" <&> \u2028 😀"}, "empty": map[string]any{}},
				"empty_list": []any{}, "null": nil,
			},
		},
		Client: &Client{
			Issuer: iss, ClientID: "client-é", ClientSecret: "secret-cs", ClientSecretExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			RegistrationAccessToken: "secret-rat", RegistrationClientURI: "https://auth.example.com/register/client-é",
			Metadata: json.RawMessage(`{"client_id":"client-é","redirect_uris":["http://127.0.0.1/callback"],"token_endpoint_auth_method":"none"}`),
		},
		Metadata: json.RawMessage(`{"authorization_server":{"issuer":"https://auth.example.com/tenant?a=1&b=2","code_challenge_methods_supported":["S256"],` +
			`"authorization_response_iss_parameter_supported":true,"token_endpoint":"https://auth.example.com/token"},"resource":{"resource":"https://mcp.example.com/mcp"}}`),
		NotBefore: time.Date(2026, 11, 27, 10, 58, 0, 0, time.UTC),
		Updated:   time.Date(2026, 11, 27, 10, 56, 48, 837419478, time.UTC),
		DPoPKey:   []byte("0\x81\x87\x02\x01\x000\x13\x06\x07*\x86H\xce=\x02\x01 secret-dpop-key"),
	}
}

// TestRealisticRecordSetsEveryField keeps realisticRecord complete: a
// field added to a record type must be set there, and so read by the fast
// path in the tests below (or they fail).
func TestRealisticRecordSetsEveryField(t *testing.T) {
	rec := realisticRecord()
	for _, v := range []reflect.Value{reflect.ValueOf(*rec), reflect.ValueOf(rec.Key), reflect.ValueOf(*rec.Token), reflect.ValueOf(*rec.Client)} {
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Errorf("realisticRecord leaves %s.%s unset", v.Type().Name(), v.Type().Field(i).Name)
			}
		}
	}
}

// mapBackend is a keyring in memory.
type mapBackend map[string]string

func (m mapBackend) Set(service, user, secret string) error {
	m[service+"\x00"+user] = secret
	return nil
}
func (m mapBackend) Get(service, user string) (string, error) {
	s, ok := m[service+"\x00"+user]
	if !ok {
		return "", os.ErrNotExist
	}
	return s, nil
}
func (m mapBackend) Delete(service, user string) error { delete(m, service+"\x00"+user); return nil }

// savedRecordFiles returns the record file that File.Save writes for
// realisticRecord, and the one that Keyring.Save writes (secrets in the
// keyring, a keyring reference in the file).
func savedRecordFiles(t testing.TB) (file, keyring []byte) {
	ctx := context.Background()
	fs, err := NewFile(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	rec := realisticRecord()
	if _, err := fs.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if file, err = os.ReadFile(fs.recordPath(rec.Key)); err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeyring(filepath.Join(t.TempDir(), "keyring"), "authloop-test")
	if err != nil {
		t.Fatal(err)
	}
	ks.backend = mapBackend{}
	if _, err := ks.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if keyring, err = os.ReadFile(ks.file.recordPath(rec.Key)); err != nil {
		t.Fatal(err)
	}
	return file, keyring
}

// TestSavedRecordTakesFastPath: the files our stores write are read
// without encoding/json, to the record saved (and loaded back).
func TestSavedRecordTakesFastPath(t *testing.T) {
	file, keyring := savedRecordFiles(t)
	if !checkFastPath(t, file) {
		t.Fatalf("the file store's record file takes the slow path:\n%s", file)
	}
	f, err := decodeRecordFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := realisticRecord()
	want.Generation, want.Updated = 1, f.Record.Updated
	if enc, _ := encodeRecordFile(&recordFile{Schema: schemaVersion, Record: want}); string(enc) != string(file) {
		t.Errorf("read back as\n%s\nsaved as\n%s", enc, file)
	}
	if !checkFastPath(t, keyring) {
		t.Fatalf("the keyring store's record file takes the slow path:\n%s", keyring)
	}
	if f, err := decodeRecordFile(keyring); err != nil || f.Keyring == nil || f.Keyring.Parts < 1 {
		t.Errorf("keyring record file: %+v, %v", f, err)
	}
}

type recordFileVariant struct {
	name string
	data string
	fast bool // read by the fast path
}

// recordFileVariants are the saved files and variants of them, each with
// the path it should take.
func recordFileVariants(t testing.TB) []recordFileVariant {
	file, keyring := savedRecordFiles(t)
	canon := string(file)
	var indented bytes.Buffer
	if err := json.Indent(&indented, file, "", "  "); err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(canon, old) {
			t.Fatalf("the saved file has no %q:\n%s", old, canon)
		}
		return strings.Replace(canon, old, new, 1)
	}
	// n arrays in one another; in extra they start at depth 5 (file,
	// record, token, extra), in metadata at depth 4 (file, record, the
	// metadata object).
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	return []recordFileVariant{
		{"saved by File", canon, true},
		{"saved by Keyring", string(keyring), true},
		{"indented", indented.String(), true},
		{"minimal", `{"schema":1,"record":{"key":{"issuer":"i","client_id":"c"},"generation":1}}`, true},
		{"empty token, client, extra", `{"schema":1,"record":{"generation":1,"token":{"extra":{}},"client":{}}}`, true},
		{"escapes", edit(`"token_type":"Bearer"`, `"token_type":"B\"\\\/\b\f\n\r\t\u0026\u00e9\u2028\ud83d\ude00"`), true},
		{"escaped key in extra", edit(`"scope":`, `"sc\u006fpe":`), true},
		{"duplicate key in extra", edit(`"scope":`, `"scope":1,"scope":`), true},
		{"raw metadata with spaces", edit(`"metadata":{"authorization_server"`, `"metadata": { "x" : [ 1 , 2 ] , "authorization_server"`), true},
		{"raw metadata string", edit(`"metadata":{"authorization_server"`, `"metadata":"x","updated2":{"authorization_server"`), false},
		{"big float in extra", edit(`"expires_in":86400,"id_token"`, `"expires_in":123456789012345678901234567890,"x":1e-400,"id_token"`), true},
		{"float out of range in extra", edit(`"expires_in":86400,"id_token"`, `"expires_in":1e400,"id_token"`), false},
		{"deep extra", edit(`"null":null`, `"null":`+deep(strictjson.MaxDepth-4)), true},
		{"too deep extra", edit(`"null":null`, `"null":`+deep(strictjson.MaxDepth-3)), false},
		{"deep metadata", edit(`"metadata":{"authorization_server"`, `"metadata":{"x":`+deep(strictjson.MaxDepth-3)+`,"authorization_server"`), true},
		{"too deep metadata", edit(`"metadata":{"authorization_server"`, `"metadata":{"x":`+deep(strictjson.MaxDepth-2)+`,"authorization_server"`), false},
		{"time in another zone", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":"2026-01-02T03:04:05.999999999-23:59"`), true},
		{"year 0", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":"0000-01-01T00:00:00Z"`), true},
		{"zone offset 24h", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":"2026-01-02T03:04:05+24:00"`), false},
		{"bad month", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":"2026-13-28T10:56:48Z"`), false},
		{"escape in a time", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":"2026-11-28T10:56:48.836651418\u005a"`), false},
		{"time as a number", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":1`), false},

		// Errors, the same on both paths.
		{"schema 2", edit(`"schema":1`, `"schema":2`), true},
		{"no record", `{"schema":1}`, true},
		{"generation 0", edit(`"generation":1`, `"generation":0`), true},
		{"bad keyring parts", strings.Replace(string(keyring), `"parts":1`, `"parts":65`, 1), true},
		{"bad keyring sha", strings.Replace(string(keyring), `"sha256":"`, `"sha256":"0`, 1), true},
		{"empty keyring service", strings.Replace(string(keyring), `"service":"authloop-test"`, `"service":""`, 1), true},

		// Off the fast path.
		{"no schema", strings.Replace(canon, `"schema":1,`, ``, 1), false},
		{"duplicate schema", edit(`"schema":1`, `"schema":1,"schema":1`), false},
		{"duplicate token", edit(`"generation":1,`, `"generation":1,"token":{},`), false},
		{"duplicate extra", edit(`"extra":{`, `"extra":{},"extra":{`), false},
		{"key in another case", edit(`"schema":1`, `"Schema":1`), false},
		{"key matching with Unicode folding", edit(`"schema":1`, `"ſchema":1`), false}, // encoding/json: U+017F matches s
		{"escaped key", edit(`"schema":1`, `"schem\u0061":1`), false},
		{"unknown key", edit(`"schema":1`, `"schema":1,"x":1`), false},
		{"null record", `{"schema":1,"record":null}`, false},
		{"null token", edit(`"token":{`, `"token":null,"x":{`), false},
		{"null extra", edit(`"extra":{`, `"extra":null,"x":{`), false},
		{"null metadata", edit(`"metadata":{"authorization_server"`, `"metadata":null,"x":{"authorization_server"`), false},
		{"null expiry", edit(`"expiry":"2026-11-28T10:56:48.836651418Z"`, `"expiry":null`), false},
		{"null string", edit(`"token_type":"Bearer"`, `"token_type":null`), false},
		{"schema 1.0", edit(`"schema":1`, `"schema":1.0`), false},
		{"generation 1e0", edit(`"generation":1`, `"generation":1e0`), false},
		{"generation -0", edit(`"generation":1`, `"generation":-0`), false},
		{"generation 2^64", edit(`"generation":1`, `"generation":18446744073709551616`), false},
		{"expires_in 2^63", edit(`"expires_in":86400,"refresh_expiry"`, `"expires_in":9223372036854775808,"refresh_expiry"`), false},
		{"expires_in -2^63", edit(`"expires_in":86400,"refresh_expiry"`, `"expires_in":-9223372036854775808,"refresh_expiry"`), true},
		{"lone surrogate", edit(`"token_type":"Bearer"`, `"token_type":"\ud800"`), false},
		{"invalid UTF-8", edit(`"token_type":"Bearer"`, "\"token_type\":\"Bea\xffrer\""), false},
		{"invalid UTF-8 in raw metadata", edit(`"metadata":{"authorization_server"`, "\"metadata\":{\"x\":\"\xff\",\"authorization_server\""), false},
		{"string as extra", edit(`"extra":{`, `"extra":"x","y":{`), false},
		{"trailing data", canon + "{}", false},
		{"byte order mark", "\xef\xbb\xbf" + canon, false},
		{"truncated", canon[:len(canon)/2], false},
		{"empty", "", false},
		{"null", "null", false},
	}
}

// TestRecordFileVariants: each variant takes the path it should, and
// decodeRecordFile reads it as encoding/json does.
func TestRecordFileVariants(t *testing.T) {
	for _, v := range recordFileVariants(t) {
		if fast := checkFastPath(t, []byte(v.data)); fast != v.fast {
			t.Errorf("%s: fast path %v, want %v:\n%s", v.name, fast, v.fast, v.data)
		}
	}
}
