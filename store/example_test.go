package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/authloop/authloop/store"
)

// A File store keeps one record per key in a private directory; another
// File store on the same directory, in this process or another, reads what
// the first saved.
func ExampleNewFile() {
	tmp, err := os.MkdirTemp("", "authloop-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "authloop") // created 0700

	ctx := context.Background()
	key := store.Key{Issuer: "https://auth.example.com", ClientID: "my-cli"}
	st, err := store.NewFile(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := &store.Record{Key: key, Token: &store.Token{AccessToken: "at-1", TokenType: "Bearer", RefreshToken: "rt-1"}}
	if _, err := st.Save(ctx, rec); err != nil {
		fmt.Println(err)
		return
	}

	other, err := store.NewFile(dir) // as another process would
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, err := other.List(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(keys[0].Issuer, keys[0].ClientID)
	got, err := other.Load(ctx, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("refresh token kept:", got.Token.RefreshToken == "rt-1")
	// Output:
	// https://auth.example.com my-cli
	// refresh token kept: true
}

// Save stores a record whole and numbers it; Load returns a copy.
// A record prints without its secrets.
func ExampleFile_Save() {
	tmp, err := os.MkdirTemp("", "authloop-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	st, err := store.NewFile(filepath.Join(tmp, "authloop"))
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	key := store.Key{Issuer: "https://auth.example.com", ClientID: "my-cli"}
	for _, rt := range []string{"rt-1", "rt-2"} { // a refresh token, then its rotation
		g, err := st.Save(ctx, &store.Record{Key: key, Token: &store.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: rt}})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("generation", g)
	}

	rec, err := st.Load(ctx, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Generation, rec.Token.RefreshToken == "rt-2")
	fmt.Println(rec.Token)

	_, err = st.Load(ctx, store.Key{Issuer: "https://other.example.com", ClientID: "my-cli"})
	fmt.Println("other issuer:", errors.Is(err, store.ErrNotFound))
	// Output:
	// generation 1
	// generation 2
	// 2 true
	// Token(access sha256:b1d6b91b, type "Bearer", refresh sha256:1f23b7da)
	// other issuer: true
}

// Lock excludes every other holder of the same named lock of a key, in this
// process and in others, until unlock: a second taker waits, here until its
// deadline.
func ExampleFile_Lock() {
	tmp, err := os.MkdirTemp("", "authloop-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	st, err := store.NewFile(filepath.Join(tmp, "authloop"))
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	key := store.Key{Issuer: "https://auth.example.com", ClientID: "my-cli"}
	unlock, err := st.Lock(ctx, key, "refresh")
	if err != nil {
		fmt.Println(err)
		return
	}

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = st.Lock(waitCtx, key, "refresh")
	fmt.Println("refresh taken while held:", err == nil, errors.Is(err, store.ErrLockTimeout))
	login, err := st.Lock(ctx, key, "login") // another name: independent
	fmt.Println("login taken:", err == nil)
	login()

	if err := unlock(); err != nil {
		fmt.Println(err)
		return
	}
	again, err := st.Lock(ctx, key, "refresh")
	fmt.Println("refresh taken after unlock:", err == nil)
	again()
	// Output:
	// refresh taken while held: false true
	// login taken: true
	// refresh taken after unlock: true
}
