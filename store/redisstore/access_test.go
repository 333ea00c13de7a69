package redisstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
	"github.com/authloop/authloop/store/storetest"
)

// The store works through a client that authenticates as an ACL user;
// a client without the password is refused with an error that is not
// "try again later" and names no secret; Describe never shows the
// password.
func TestStoreWithACLUser(t *testing.T) {
	const password = "s3cret-redis-password"
	srv := redistest.StartWith(t, redistest.Config{User: "authloop", Password: password})
	storetest.TestStore(t, func(t *testing.T) store.Store {
		return expirable{newStore(t, srv, 0)}
	})
	s := newStore(t, srv, 0)
	if strings.Contains(s.Describe(), password) {
		t.Errorf("Describe shows the password: %s", s.Describe())
	}
	o := srv.Options()
	o.Password = "wrong"
	c := redis.NewClient(o)
	defer c.Close()
	bad, err := New(c, Options{Prefix: "{acl}:"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Load(ctxT(t), key(1))
	if err == nil {
		t.Fatal("Load with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows a password: %v", err)
	}
	if !strings.Contains(err.Error(), "credentials") {
		t.Errorf("the error does not point to the credentials: %v", err)
	}
}

// The store works over TLS (rediss://), and a client that speaks plain
// TCP to the TLS port fails as unreachable, naming TLS as a thing to
// check.
func TestStoreOverTLS(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Config{TLS: true, User: "authloop", Password: "pw"})
	storetest.TestStore(t, func(t *testing.T) store.Store {
		return expirable{newStore(t, srv, 0)}
	})
	o := srv.Options()
	o.TLSConfig = nil
	c := redis.NewClient(o)
	defer c.Close()
	plain, err := New(c, Options{Prefix: "{tls}:"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.Load(ctxT(t), key(1))
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("Load without TLS from a TLS-only Redis: %v; want store.ErrUnavailable, naming TLS", err)
	}
}
