package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func secretRecord() *Record {
	return &Record{
		Key:        Key{Issuer: "https://i.example.com", ClientID: "c"},
		Generation: 3,
		Token: &Token{AccessToken: "secret-at", TokenType: "Bearer", RefreshToken: "secret-rt", Expiry: time.Unix(1e9, 0),
			ExpiresIn: 60, RefreshExpiry: time.Unix(2e9, 0),
			Extra: map[string]any{"id_token": "secret-idt", "scope": "a b", "list": []any{"x", map[string]any{"y": "z"}}}},
		Client: &Client{Issuer: "https://i.example.com", ClientID: "c", ClientSecret: "secret-cs", RegistrationAccessToken: "secret-rat",
			Metadata: json.RawMessage(`{"a":1}`)},
		Metadata: json.RawMessage(`{"issuer":"https://i.example.com"}`),
		Updated:  time.Unix(1.5e9, 0),
		DPoPKey:  []byte("secret-dpop-key"),
	}
}

func TestStringsRedacted(t *testing.T) {
	r := secretRecord()
	for _, s := range []string{r.String(), r.Token.String(), r.Client.String(), fmt.Sprint(r), fmt.Sprintf("%v %+v %s", r, r.Token, r.Client)} {
		if strings.Contains(s, "secret-") {
			t.Errorf("String shows a secret: %s", s)
		}
	}
	s := r.String()
	for _, want := range []string{"generation 3", "https://i.example.com", "sha256:", "Bearer"} {
		if !strings.Contains(s, want) {
			t.Errorf("Record.String %q lacks %q", s, want)
		}
	}
	// The client and the metadata's size are shown when there are any,
	// and only then.
	for _, want := range []string{`Client(issuer "https://i.example.com", id "c"`, ", 34 bytes of metadata", ", a DPoP key"} {
		if !strings.Contains(s, want) {
			t.Errorf("Record.String %q lacks %q", s, want)
		}
	}
	bare := (&Record{Key: r.Key, Generation: 1}).String()
	for _, not := range []string{"Client(", "metadata", "DPoP"} {
		if strings.Contains(bare, not) {
			t.Errorf("Record.String of a record without client or metadata shows %q: %s", not, bare)
		}
	}
	var nilRec *Record
	var nilTok *Token
	var nilClient *Client
	_ = nilRec.String() + nilTok.String() + nilClient.String()
	if got := (&Token{}).String(); !strings.Contains(got, "access none") {
		t.Errorf("String of an empty token: %s", got)
	}
}

func TestClone(t *testing.T) {
	r := secretRecord()
	c := r.Clone()
	if !reflect.DeepEqual(r, c) {
		t.Fatalf("Clone differs:\n%+v\n%+v", r, c)
	}
	c.Token.AccessToken = "x"
	c.Token.Extra["scope"] = "x"
	c.Token.Extra["list"].([]any)[1].(map[string]any)["y"] = "x"
	c.Client.ClientSecret = "x"
	c.Client.Metadata[1] = 'X'
	c.Metadata[1] = 'X'
	c.DPoPKey[0] = 'X'
	if !reflect.DeepEqual(r, secretRecord()) {
		t.Errorf("a change to a clone reached the original: %+v", r)
	}
	// Byte and string slices in Extra (put there by a caller, not by a
	// JSON decode) are copied too, and nil ones stay nil.
	r = secretRecord()
	r.Token.Extra["bytes"], r.Token.Extra["strings"] = []byte("ab"), []string{"a", "b"}
	r.Token.Extra["nil bytes"], r.Token.Extra["nil strings"], r.Token.Extra["nil list"] = []byte(nil), []string(nil), []any(nil)
	c = r.Clone()
	if !reflect.DeepEqual(r, c) {
		t.Fatalf("Clone differs:\n%+v\n%+v", r.Token.Extra, c.Token.Extra)
	}
	c.Token.Extra["bytes"].([]byte)[0] = 'X'
	c.Token.Extra["strings"].([]string)[0] = "X"
	if string(r.Token.Extra["bytes"].([]byte)) != "ab" || r.Token.Extra["strings"].([]string)[0] != "a" {
		t.Errorf("a change to a clone's slices reached the original: %v", r.Token.Extra)
	}
	if (*Record)(nil).Clone() != nil {
		t.Error("Clone of nil is not nil")
	}
	empty := &Record{}
	if !reflect.DeepEqual(empty.Clone(), empty) {
		t.Error("Clone of an empty record differs")
	}
}
