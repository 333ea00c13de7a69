package redisstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
)

// A record of a newer schema (written by a newer authloop sharing the
// store) is told apart from one no version can read: its Load error wraps
// ErrNewerSchema (and store.ErrCorrupt), says to upgrade, not to delete
// it, and the record stays as it was; garbage wraps store.ErrCorrupt only.
func TestNewerSchemaToldApartFromCorrupt(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, 0)
	k := key(1)
	for name, tc := range map[string]struct {
		fields []any
		newer  bool
	}{
		"schema 2":             {[]any{"gen", "3", "data", `{"schema":2,"record":{"key":{"issuer":"x"},"token":{"access_token":"secret-at"}}}`}, true},
		"schema 17, new shape": {[]any{"gen", "3", "data", `{"schema":17,"blob":"secret-rt"}`}, true},
		"schema 0":             {[]any{"gen", "3", "data", `{"schema":0,"record":{}}`}, false},
		"no schema":            {[]any{"gen", "3", "data", `{"record":{}}`}, false},
		"not JSON":             {[]any{"gen", "3", "data", `{"schema":2,"refresh_token":"secret-rt"`}, false},
		"schema 1, no record":  {[]any{"gen", "1", "data", `{"schema":1}`}, false},
	} {
		rk := s.recKey(k.ID())
		if err := s.c.HSet(ctxT(t), rk, tc.fields...).Err(); err != nil {
			t.Fatal(err)
		}
		before, _ := s.c.HGetAll(ctxT(t), rk).Result()
		_, err := s.Load(ctxT(t), k)
		switch {
		case !errors.Is(err, store.ErrCorrupt):
			t.Errorf("%s: Load: %v; want ErrCorrupt", name, err)
		case errors.Is(err, ErrNewerSchema) != tc.newer:
			t.Errorf("%s: Load: %v; wraps ErrNewerSchema: %v, want %v", name, err, errors.Is(err, ErrNewerSchema), tc.newer)
		case strings.Contains(err.Error(), "secret"):
			t.Errorf("%s: the error quotes the record: %v", name, err)
		case tc.newer && (!strings.Contains(err.Error(), "upgrade") || strings.Contains(err.Error(), "DEL")):
			t.Errorf("%s: the error does not say to upgrade, or says to delete the record: %v", name, err)
		}
		after, _ := s.c.HGetAll(ctxT(t), rk).Result()
		if len(after) != len(before) || after["data"] != before["data"] {
			t.Errorf("%s: Load changed the record", name)
		}
		s.c.Del(ctxT(t), rk)
	}
}
