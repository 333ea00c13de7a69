package store

import (
	"bytes"
	"testing"
)

func FuzzDecodeRecordFile(f *testing.F) {
	valid, err := encodeRecordFile(&recordFile{Schema: schemaVersion, Record: secretRecord()})
	if err != nil {
		f.Fatal(err)
	}
	withKeyring, err := encodeRecordFile(&recordFile{Schema: schemaVersion, Record: &Record{Key: Key{Issuer: "i", ClientID: "c"}, Generation: 1},
		Keyring: &keyringRef{Service: "authloop", Parts: 2, SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		valid,
		withKeyring,
		[]byte(`{"schema":1,"record":{"key":{"issuer":"i","client_id":"c"},"generation":1}}`),
		[]byte(`{"schema":2,"record":{}}`),
		[]byte(`{"schema":1,"record":{"generation":1,"token":{"access_token":"a","expiry":"2026-01-02T03:04:05.999999999+05:30","extra":{"n":1e300,"s":"\u00e9\ud800"}}}}`),
		[]byte(`{"schema":1,"record":{"generation":1,"metadata":null,"client":{"issuer":"i","client_id":"c","metadata":[1,2]}}}`),
		[]byte(`{"schema":1,"record":{"generation":18446744073709551615},"keyring":{"service":"s","parts":64,"sha256":"x"}}`),
		[]byte(`{"schema":1,"schema":1,"record":null}`),
		[]byte(`{"schema":1.0,"record":{"generation":1}} `),
		[]byte(``),
		[]byte(`null`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastPath(t, data)
		checkWrittenBack(t, data)
		rf, err := decodeRecordFile(data)
		if err != nil {
			if rf != nil {
				t.Fatal("decode returned a record with an error")
			}
			return
		}
		if rf.Schema != schemaVersion || rf.Record == nil || rf.Record.Generation == 0 {
			t.Fatalf("decode accepted %+v", rf)
		}
		// What decodes re-encodes, and the encoding is a fixed point.
		enc, err := encodeRecordFile(rf)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		rf2, err := decodeRecordFile(enc)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, enc)
		}
		enc2, err := encodeRecordFile(rf2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("decode(encode(r)) differs from r:\n%s\n%s", enc, enc2)
		}
		// And a clone encodes the same.
		enc3, err := encodeRecordFile(&recordFile{Schema: rf.Schema, Record: rf.Record.Clone(), Keyring: rf.Keyring})
		if err != nil || !bytes.Equal(enc, enc3) {
			t.Fatalf("a clone encodes differently: %v\n%s\n%s", err, enc, enc3)
		}
	})
}
