package store

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/authloop/authloop/internal/strictjson"
)

// scanRecordFile is the fast path of decodeRecordFile: it reads a record
// file in the form encodeRecordFile writes, without encoding/json, whose
// first use in a process (type analysis, reflection, cold code) costs
// several times what the reading does, at every start of a program such
// as `authloop token` (issue 7). It reports false on anything else (an
// unknown or duplicate member, a null, a file without a schema, any input
// strictjson does not read exactly as encoding/json does), and
// decodeRecordFileJSON decodes that file instead. What it accepts, it
// reads to the same recordFile as decodeRecordFileJSON (with Schema set),
// which FuzzRecordFileFastPath checks; it does not check the schema and
// the record.
//
// What it accepts can always be written back, so decodeRecordFile need
// not encode it to find out, as decodeRecordFileJSON does: the times
// must pass the check of Time.MarshalJSON (readTime); the numbers in
// Extra are finite (strconv.ParseFloat succeeded); the raw metadata is a
// complete JSON value; strings are valid UTF-8; nothing nests deeper than
// strictjson.MaxDepth, far below where encoding/json's encoder looks for
// cycles.
func scanRecordFile(data []byte) (*recordFile, bool) {
	r := strictjson.NewReader(data)
	f := &recordFile{}
	var seen uint64
	if r.BeginObject() {
		for r.Member() {
			switch string(r.Key()) {
			case "schema":
				if r.Once(&seen, 0) {
					f.Schema = r.ReadInt()
				}
			case "record":
				if r.Once(&seen, 1) {
					f.Record = scanRecord(&r)
				}
			case "keyring":
				if r.Once(&seen, 2) {
					f.Keyring = scanKeyringRef(&r)
				}
			default:
				r.Reject()
			}
		}
	}
	// Without a schema, decodeRecordFileJSON names the error.
	if !r.Done() || seen&1 == 0 {
		return nil, false
	}
	return f, true
}

func scanRecord(r *strictjson.Reader) *Record {
	rec := &Record{}
	var seen uint64
	if !r.BeginObject() {
		return nil
	}
	for r.Member() {
		switch string(r.Key()) {
		case "key":
			if r.Once(&seen, 0) {
				rec.Key = scanKey(r)
			}
		case "generation":
			if r.Once(&seen, 1) {
				rec.Generation = r.ReadUint64()
			}
		case "token":
			if r.Once(&seen, 2) {
				rec.Token = scanToken(r)
			}
		case "client":
			if r.Once(&seen, 3) {
				rec.Client = scanClient(r)
			}
		case "metadata":
			if r.Once(&seen, 4) {
				rec.Metadata = readRawMessage(r)
			}
		case "updated":
			if r.Once(&seen, 5) {
				rec.Updated = readTime(r)
			}
		case "not_before":
			if r.Once(&seen, 6) {
				rec.NotBefore = readTime(r)
			}
		case "dpop_key":
			if r.Once(&seen, 7) {
				rec.DPoPKey = readBytes(r)
			}
		default:
			r.Reject()
		}
	}
	return rec
}

func scanKey(r *strictjson.Reader) Key {
	var k Key
	var seen uint64
	if !r.BeginObject() {
		return k
	}
	for r.Member() {
		switch string(r.Key()) {
		case "issuer":
			if r.Once(&seen, 0) {
				k.Issuer = r.ReadString()
			}
		case "client_id":
			if r.Once(&seen, 1) {
				k.ClientID = r.ReadString()
			}
		case "resource":
			if r.Once(&seen, 2) {
				k.Resource = r.ReadString()
			}
		case "account":
			if r.Once(&seen, 3) {
				k.Account = r.ReadString()
			}
		case "grant":
			if r.Once(&seen, 4) {
				k.Grant = r.ReadString()
			}
		default:
			r.Reject()
		}
	}
	return k
}

func scanToken(r *strictjson.Reader) *Token {
	t := &Token{}
	var seen uint64
	if !r.BeginObject() {
		return nil
	}
	for r.Member() {
		switch string(r.Key()) {
		case "access_token":
			if r.Once(&seen, 0) {
				t.AccessToken = r.ReadString()
			}
		case "token_type":
			if r.Once(&seen, 1) {
				t.TokenType = r.ReadString()
			}
		case "refresh_token":
			if r.Once(&seen, 2) {
				t.RefreshToken = r.ReadString()
			}
		case "expiry":
			if r.Once(&seen, 3) {
				t.Expiry = readTime(r)
			}
		case "expires_in":
			if r.Once(&seen, 4) {
				t.ExpiresIn = r.ReadInt64()
			}
		case "refresh_expiry":
			if r.Once(&seen, 5) {
				t.RefreshExpiry = readTime(r)
			}
		case "extra":
			if r.Once(&seen, 6) {
				t.Extra = r.ReadMap()
			}
		default:
			r.Reject()
		}
	}
	return t
}

func scanClient(r *strictjson.Reader) *Client {
	c := &Client{}
	var seen uint64
	if !r.BeginObject() {
		return nil
	}
	for r.Member() {
		switch string(r.Key()) {
		case "issuer":
			if r.Once(&seen, 0) {
				c.Issuer = r.ReadString()
			}
		case "client_id":
			if r.Once(&seen, 1) {
				c.ClientID = r.ReadString()
			}
		case "client_secret":
			if r.Once(&seen, 2) {
				c.ClientSecret = r.ReadString()
			}
		case "client_secret_expires_at":
			if r.Once(&seen, 3) {
				c.ClientSecretExpiresAt = readTime(r)
			}
		case "registration_access_token":
			if r.Once(&seen, 4) {
				c.RegistrationAccessToken = r.ReadString()
			}
		case "registration_client_uri":
			if r.Once(&seen, 5) {
				c.RegistrationClientURI = r.ReadString()
			}
		case "metadata":
			if r.Once(&seen, 6) {
				c.Metadata = readRawMessage(r)
			}
		default:
			r.Reject()
		}
	}
	return c
}

func scanKeyringRef(r *strictjson.Reader) *keyringRef {
	k := &keyringRef{}
	var seen uint64
	if !r.BeginObject() {
		return nil
	}
	for r.Member() {
		switch string(r.Key()) {
		case "service":
			if r.Once(&seen, 0) {
				k.Service = r.ReadString()
			}
		case "parts":
			if r.Once(&seen, 1) {
				k.Parts = r.ReadInt()
			}
		case "sha256":
			if r.Once(&seen, 2) {
				k.SHA256 = r.ReadString()
			}
		default:
			r.Reject()
		}
	}
	return k
}

// readTime reads a time as encoding/json does, with Time.UnmarshalJSON on
// the string as written. A time that Time.MarshalJSON would refuse to
// write (a year outside [0,9999], a zone offset of 24 hours or more) is
// refused, so that all that scanRecordFile accepts can be written back;
// AppendText makes the same check as MarshalJSON.
func readTime(r *strictjson.Reader) time.Time {
	var t time.Time
	q := r.ReadQuoted()
	if !r.OK() {
		return t
	}
	if err := t.UnmarshalJSON(q); err != nil {
		r.Reject()
		return t
	}
	var buf [64]byte
	if _, err := t.AppendText(buf[:0]); err != nil {
		r.Reject()
	}
	return t
}

// readRawMessage reads a value as encoding/json does into a
// json.RawMessage: a copy of its bytes. A null, which encoding/json would
// keep as the four bytes null, is refused.
// readBytes reads a []byte as encoding/json writes it: a string in
// standard base64 with padding.
func readBytes(r *strictjson.Reader) []byte {
	b, err := base64.StdEncoding.Strict().DecodeString(r.ReadString())
	if err != nil {
		r.Reject()
		return nil
	}
	return b
}

func readRawMessage(r *strictjson.Reader) json.RawMessage {
	raw := r.ReadRaw()
	if len(raw) > 0 && raw[0] == 'n' {
		r.Reject()
		return nil
	}
	return append(json.RawMessage(nil), raw...)
}
