package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// schemaVersion is the version of the record file format written by this
// package. A file of another version is refused as corrupt rather than
// half understood.
const schemaVersion = 1

// recordFile is the content of one record file:
//
//	{"schema":1,"record":{...},"keyring":{...}}
//
// keyring is present only when the record's secrets are kept in the OS
// keyring (the Keyring store); the record then holds everything else.
type recordFile struct {
	Schema  int         `json:"schema"`
	Record  *Record     `json:"record"`
	Keyring *keyringRef `json:"keyring,omitempty"`
}

// keyringRef says where in the OS keyring a record's secrets are and how to
// check that they belong to this version of the record.
type keyringRef struct {
	Service string `json:"service"`
	Parts   int    `json:"parts"`  // number of keyring items the secrets are split into
	SHA256  string `json:"sha256"` // hex SHA-256 of the joined items, to catch a keyring out of step with the file
}

// maxKeyringParts bounds the parts a record file may claim, so a damaged
// file cannot make Load issue a million keyring requests.
const maxKeyringParts = 64

// decodeRecordFile parses the bytes of a record file. It accepts only a
// complete file of the current schema holding a record with a generation;
// unknown fields are ignored. It never panics.
//
// A file in the form encodeRecordFile writes is read by scanRecordFile,
// without encoding/json; anything else, by decodeRecordFileJSON. Both
// give the same record, or the same error.
func decodeRecordFile(data []byte) (*recordFile, error) {
	f, ok := scanRecordFile(data)
	if !ok {
		return decodeRecordFileJSON(data)
	}
	if err := schemaError(&f.Schema); err != nil {
		return nil, err
	}
	if err := checkRecordFile(f); err != nil {
		return nil, err
	}
	// No need to check that the record can be written back: all that
	// scanRecordFile accepts can be (see there).
	return f, nil
}

// decodeRecordFileJSON is decodeRecordFile with encoding/json, for any
// file.
func decodeRecordFileJSON(data []byte) (*recordFile, error) {
	// One pass for a good file. The schema is checked before the rest of
	// the file is trusted, so when that pass fails, the schema alone is
	// read, to say what is wrong: not JSON, no schema, another schema
	// (whose record may not fit this one's types), or a bad record.
	var f struct {
		Schema *int `json:"schema"`
		recordFile
	}
	if err := json.Unmarshal(data, &f); err != nil {
		if err := checkSchema(data); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("bad record: %v", jsonErr(err))
	}
	if err := schemaError(f.Schema); err != nil {
		return nil, err
	}
	f.recordFile.Schema = *f.Schema
	if err := checkRecordFile(&f.recordFile); err != nil {
		return nil, err
	}
	// A record that cannot be written back is no record: Save would fail
	// on it later with a less useful message.
	if _, err := encodeRecordFile(&f.recordFile); err != nil {
		return nil, fmt.Errorf("bad record: %v", err)
	}
	return &f.recordFile, nil
}

// checkRecordFile checks a decoded record file of the current schema: it
// must hold a record with a generation and, if any, a sound keyring
// reference.
func checkRecordFile(f *recordFile) error {
	if f.Record == nil {
		return errors.New(`no "record" field`)
	}
	if f.Record.Generation == 0 {
		return errors.New("record has no generation")
	}
	if r := f.Keyring; r != nil {
		if r.Service == "" || r.Parts < 1 || r.Parts > maxKeyringParts || len(r.SHA256) != 64 {
			return errors.New("bad keyring reference")
		}
	}
	return nil
}

// checkSchema reads only the schema of a record file.
func checkSchema(data []byte) error {
	var probe struct {
		Schema *int `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("not a record file: %v", jsonErr(err))
	}
	return schemaError(probe.Schema)
}

func schemaError(schema *int) error {
	if schema == nil {
		return errors.New(`not a record file: no "schema" field`)
	}
	if *schema != schemaVersion {
		return fmt.Errorf("schema version %d, but this version of authloop reads only version %d (was it written by a newer authloop?)", *schema, schemaVersion)
	}
	return nil
}

// encodeRecordFile returns the bytes of a record file: compact JSON (an
// indented file would also indent the raw metadata, which must come back
// as it was saved) ending in a newline.
func encodeRecordFile(f *recordFile) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonErr keeps the position and kind of a JSON error but never the
// content it quotes, which could be part of a token.
func jsonErr(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has the wrong type (JSON %s at byte %d)", typ.Field, typ.Value, typ.Offset)
	}
	return "invalid JSON or field"
}
