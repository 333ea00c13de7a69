package strictjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzReadAny: what ReadAny accepts, encoding/json decodes to the same
// value; what ReadRaw accepts, to the same json.RawMessage; Skip accepts
// what ReadRaw does, and both accept all that ReadAny does (but also
// numbers out of float64's range, which a json.RawMessage keeps).
func FuzzReadAny(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,-2.5e+3,true,false,null,"\u00e9\ud83d\ude00\n",{"b":{}}],"c":"😀"}`,
		`{"a":1,"a":2}`, `{"\u0061":1}`, `"\ud800"`, "\"\xff\"", `1e400`, `-0`, `[[[[[[]]]]]]`, ` 1 `, `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := readAny(data)
		r := NewReader(data)
		r.Skip()
		skipped := r.Done()
		r = NewReader(data)
		raw := r.ReadRaw()
		rawOK := r.Done()
		if skipped != rawOK || ok && !rawOK {
			t.Fatalf("%q: ReadAny %v, Skip %v, ReadRaw %v", data, ok, skipped, rawOK)
		}
		if rawOK {
			var wantRaw json.RawMessage
			if err := json.Unmarshal(data, &wantRaw); err != nil || string(raw) != string(wantRaw) {
				t.Fatalf("ReadRaw of %q: %q; encoding/json: %q, %v", data, raw, wantRaw, err)
			}
		}
		if !ok {
			return
		}
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %q as %#v; encoding/json: %#v", data, got, want)
		}
	})
}
