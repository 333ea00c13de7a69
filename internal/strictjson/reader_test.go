package strictjson

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// readAny reads data as one value of any kind, as a caller would.
func readAny(data []byte) (any, bool) {
	r := NewReader(data)
	v := r.ReadAny()
	return v, r.Done()
}

// sameAsJSON checks that what the reader accepts, encoding/json decodes
// to the same value.
func sameAsJSON(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	got, ok := readAny(data)
	if !ok {
		return false
	}
	var want any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %q as %#v; encoding/json: %#v", data, got, want)
	}
	return true
}

func TestReadAnyAccepts(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `true`, `false`, `null`,
		` {"a" : [1, 2.5, -3e2, 1E-400, 1.7976931348623157e308, true, false, null, "x", {}, []] } ` + "\n\t\r",
		`{"a":1,"a":{"b":2}}`, // the last of two members with one key counts
		`{"a\"b":"\"\\\/\b\f\n\r\t"}`,
		`"\u0000\u001f\u00e9\u2028\uFFFD\ud83d\ude00 é 😀"`,
		`{"\u0061":1,"a":2}`,
		`{"s":"&<>","u":"\u0026\u003c\u003e"}`,
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		strings.Repeat(`{"a":`, MaxDepth-1) + "[]" + strings.Repeat("}", MaxDepth-1),
		`12345678901234567890123456789`, // a float64, as for encoding/json
	} {
		if !sameAsJSON(t, []byte(in)) {
			t.Errorf("refused %q", in)
		}
	}
}

func TestReadAnyRefuses(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{`, `[`, `]`, `}`, `{]`, `[}`, `"`, `"abc`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{a:1}`,
		`{"a":1,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1 "b":2}`, `{,}`, `{"a":1}{}`, `1 2`, `{} x`, `{}]`,
		`tru`, `truex`, `nul`, `nulll`, `True`, `NaN`, `Infinity`, `+1`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `0x10`,
		`1e400`, `-1e400`, // out of float64's range: encoding/json refuses them too
		`"a` + "\x00" + `"`, `"a` + "\n" + `"`, `"\x"`, `"\'"`, `"\u12"`, `"\u12G4"`, `"\`,
		`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800\ud800"`, `"\ud800x"`, `"\ud83d\ude00\ude00"`, // lone surrogates: U+FFFD in encoding/json
		"\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", // invalid UTF-8: U+FFFD in encoding/json
		"\xef\xbb\xbf{}", // a byte order mark
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	} {
		if sameAsJSON(t, []byte(in)) {
			t.Errorf("accepted %q", in)
		}
	}
}

// TestTruncated reads every prefix of a document: none may panic, and a
// prefix is accepted only as encoding/json reads it.
func TestTruncated(t *testing.T) {
	doc := `{"a":[1,-2.5e+3,true,false,null,"\u00e9\ud83d\ude00\n",{"b":{}}],"c":"😀"}`
	for i := range len(doc) {
		if sameAsJSON(t, []byte(doc[:i])) {
			t.Errorf("accepted the prefix %q", doc[:i])
		}
		r := NewReader([]byte(doc[:i]))
		r.Skip()
		if r.Done() {
			t.Errorf("Skip accepted the prefix %q", doc[:i])
		}
	}
	if !sameAsJSON(t, []byte(doc)) {
		t.Errorf("refused %q", doc)
	}
}

func TestNestingLimit(t *testing.T) {
	for _, depth := range []int{MaxDepth, MaxDepth + 1} {
		arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		objects := strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
		for _, in := range []string{arrays, objects} {
			r := NewReader([]byte(in))
			r.Skip()
			_, anyOK := readAny([]byte(in))
			if ok := r.Done(); ok != (depth <= MaxDepth) || anyOK != ok {
				t.Errorf("depth %d: Skip %v, ReadAny %v", depth, ok, anyOK)
			}
		}
	}
}

// object reads {"k": v} with read for v, as a caller reads a member.
func object(in string, read func(*Reader)) bool {
	r := NewReader([]byte(in))
	if r.BeginObject() {
		for r.Member() {
			read(&r)
		}
	}
	return r.Done()
}

func TestReadTyped(t *testing.T) {
	ints := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"42", 42, true}, {"-42", -42, true},
		{"9223372036854775807", math.MaxInt64, true}, {"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false}, {"99999999999999999999", 0, false},
		{"1e2", 0, false}, {"1.0", 0, false}, {"1E0", 0, false}, {"null", 0, false}, {`"1"`, 0, false}, {"true", 0, false},
	}
	for _, c := range ints {
		var got int64
		if ok := object(`{"k":`+c.in+`}`, func(r *Reader) { got = r.ReadInt64() }); ok != c.ok || got != c.want {
			t.Errorf("ReadInt64 of %s: %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
		var want struct{ K int64 }
		if err := json.Unmarshal([]byte(`{"k":`+c.in+`}`), &want); c.ok && (err != nil || want.K != c.want) {
			t.Errorf("encoding/json reads %s as %d, %v", c.in, want.K, err)
		}
	}
	uints := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false}, {"-0", 0, false}, {"-1", 0, false}, {"1e1", 0, false}, {"null", 0, false},
	}
	for _, c := range uints {
		var got uint64
		if ok := object(`{"k":`+c.in+`}`, func(r *Reader) { got = r.ReadUint64() }); ok != c.ok || got != c.want {
			t.Errorf("ReadUint64 of %s: %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	// ReadInt: int's own range, as encoding/json checks it.
	for _, in := range []string{"-9223372036854775808", "2147483648", "-2147483649"} {
		var got int
		ok := object(`{"k":`+in+`}`, func(r *Reader) { got = r.ReadInt() })
		var want struct{ K int }
		wantErr := json.Unmarshal([]byte(`{"k":`+in+`}`), &want)
		if ok != (wantErr == nil) || ok != (strconv.IntSize == 64) || got != want.K {
			t.Errorf("ReadInt of %s: %d, %v; encoding/json: %d, %v", in, got, ok, want.K, wantErr)
		}
	}
	bools := map[string]bool{"true": true, "false": true, "null": false, "0": false, `"true"`: false, "tru": false, "falsey": false}
	for in, ok := range bools {
		var got bool
		if object(`{"k":`+in+`}`, func(r *Reader) { got = r.ReadBool() }) != ok || got != (ok && in == "true") {
			t.Errorf("ReadBool of %s: %v", in, got)
		}
	}
	strs := map[string]string{`""`: "", `"a b"`: "a b", `"\u0026\n"`: "&\n", "null": "", "1": "", "[]": "", `"\ud800"`: ""}
	for in, want := range strs {
		var got string
		ok := object(`{"k":`+in+`}`, func(r *Reader) { got = r.ReadString() })
		if ok != (in[0] == '"' && in != `"\ud800"`) || got != want {
			t.Errorf("ReadString of %s: %q, %v", in, got, ok)
		}
	}
	var ss []string
	if !object(`{"k":[]}`, func(r *Reader) { ss = r.ReadStrings() }) || ss == nil || len(ss) != 0 {
		t.Errorf("ReadStrings of []: %#v", ss)
	}
	if object(`{"k":["a",null]}`, func(r *Reader) { ss = r.ReadStrings() }) || object(`{"k":"a"}`, func(r *Reader) { ss = r.ReadStrings() }) {
		t.Error("ReadStrings accepted a null or a string")
	}
	var m map[string]any
	if !object(`{"k":{}}`, func(r *Reader) { m = r.ReadMap() }) || m == nil || len(m) != 0 {
		t.Errorf("ReadMap of {}: %#v", m)
	}
	if object(`{"k":[]}`, func(r *Reader) { m = r.ReadMap() }) || object(`{"k":null}`, func(r *Reader) { m = r.ReadMap() }) {
		t.Error("ReadMap accepted an array or a null")
	}
}

func TestReadRawAndQuoted(t *testing.T) {
	var raw, q []byte
	in := `{"r": { "a" : [ 1 , "x" ] } ,"q":"a\"b"}`
	if !object(in, func(r *Reader) {
		if string(r.Key()) == "r" {
			raw = r.ReadRaw()
		} else {
			q = r.ReadQuoted()
		}
	}) {
		t.Fatal("refused")
	}
	var want struct {
		R json.RawMessage
		Q string
	}
	if err := json.Unmarshal([]byte(in), &want); err != nil || string(raw) != string(want.R) || string(q) != `"a\"b"` {
		t.Errorf("raw %q (encoding/json: %q, %v), quoted %q", raw, want.R, err, q)
	}
	for _, in := range []string{`{"q":1}`, `{"q":null}`, `{"q":{}}`} {
		if object(in, func(r *Reader) { r.ReadQuoted() }) {
			t.Errorf("ReadQuoted accepted %s", in)
		}
	}
	if object(`{"r":[1,}`, func(r *Reader) { r.ReadRaw() }) {
		t.Error("ReadRaw accepted a broken value")
	}
}

func TestCallerRejections(t *testing.T) {
	// Once: a member read twice.
	read := func(in string) bool {
		var seen uint64
		return object(in, func(r *Reader) {
			i := uint(0)
			if string(r.Key()) == "b" {
				i = 1
			}
			if r.Once(&seen, i) {
				r.Skip()
			}
		})
	}
	if !read(`{"a":1,"b":2}`) || read(`{"a":1,"b":2,"a":1}`) {
		t.Error("Once")
	}
	var seen uint64
	if r := NewReader(nil); r.Once(&seen, 64) || r.OK() {
		t.Error("Once(64) accepted")
	}
	// Reject: an unknown member.
	if object(`{"a":1}`, func(r *Reader) { r.Reject() }) {
		t.Error("Reject")
	}
	// A key with an escape sequence, which Member refuses and the
	// members of ReadMap accept.
	if object(`{"\u0061":1}`, func(r *Reader) { r.Skip() }) {
		t.Error("Member accepted an escaped key")
	}
	var m map[string]any
	if !object(`{"k":{"\u0061":1}}`, func(r *Reader) { m = r.ReadMap() }) || m["a"] != 1.0 {
		t.Errorf("ReadMap: %v", m)
	}
}

// TestMisuse: no order of calls makes the reader accept malformed JSON.
func TestMisuse(t *testing.T) {
	for name, f := range map[string]func(r *Reader){
		"two values":         func(r *Reader) { r.ReadInt(); r.ReadInt() },
		"member in an array": func(r *Reader) { r.BeginArray(); r.Member(); r.ReadInt(); r.Element() },
		"element in object":  func(r *Reader) { r.BeginObject(); r.Element(); r.ReadInt(); r.Member() },
		"key twice":          func(r *Reader) { r.BeginObject(); r.Member(); r.Member(); r.ReadInt(); r.Member() },
		"member at the top":  func(r *Reader) { r.Member() },
		"element at the top": func(r *Reader) { r.Element() },
		"unfinished":         func(r *Reader) { r.BeginObject() },
	} {
		for _, in := range []string{`1 2`, `[1]`, `{"a":1}`, `{"a":"b":1}`, `{}`, `[]`, `1`} {
			r := NewReader([]byte(in))
			f(&r)
			if r.Done() {
				var v any
				if json.Unmarshal([]byte(in), &v) != nil || name == "unfinished" {
					t.Errorf("%s: accepted %s", name, in)
				}
			}
		}
	}
}

// TestNoNeedlessAllocations: reading structure, numbers, booleans and
// keys allocates nothing; a string, only itself.
func TestNoNeedlessAllocations(t *testing.T) {
	doc := []byte(`{"a":[1,-2,3.5e1,true,false,null,{"b":{}}],"s":"plain","t":"esc\n","n":12345}`)
	if n := testing.AllocsPerRun(100, func() {
		r := NewReader(doc)
		r.Skip()
		if !r.Done() {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("Skip: %v allocations", n)
	}
	var s string
	if n := testing.AllocsPerRun(100, func() {
		r := NewReader(doc)
		r.BeginObject()
		for r.Member() {
			switch string(r.Key()) {
			case "s":
				s = r.ReadString()
			case "n":
				r.ReadInt64()
			default:
				r.ReadRaw()
			}
		}
		if !r.Done() {
			t.Fatal("refused")
		}
	}); n != 1 {
		t.Errorf("members: %v allocations, want 1 (the string %q)", n, s)
	}
}
