package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// The lock of a process that dies (SIGKILL: no unlock, no more renewals)
// frees itself when its lease ends, and another process takes it.
func TestLockOfAKilledProcessFreesItself(t *testing.T) {
	srv := redistest.Start(t)
	s, err := New(srv.Client(), Options{Prefix: "{death}:", LockTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessHoldsLock$")
	cmd.Env = append(os.Environ(), "REDISSTORE_HELPER_ADDR="+srv.Addr())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("the helper process says %q, %v; want \"held\"", line, err)
	}
	short, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	if u, err := s.Lock(short, key(1), "refresh"); !errors.Is(err, store.ErrLockTimeout) {
		if err == nil {
			u()
		}
		t.Fatalf("Lock while another process holds it: %v; want ErrLockTimeout", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(ctxT(t), key(1), "refresh")
	if err != nil {
		t.Fatalf("Lock after its holder was killed: %v; want it once the lease ended", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestHelperProcessHoldsLock is the process that TestLockOfAKilledProcessFreesItself
// kills: it takes the lock, says "held" and waits to be killed. Run
// without REDISSTORE_HELPER_ADDR, it does nothing.
func TestHelperProcessHoldsLock(t *testing.T) {
	addr := os.Getenv("REDISSTORE_HELPER_ADDR")
	if addr == "" {
		return
	}
	s, err := New(redis.NewClient(&redis.Options{Addr: addr}), Options{Prefix: "{death}:", LockTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(context.Background(), key(1), "refresh"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("held")
	select {}
}
