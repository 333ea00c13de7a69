package authloop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authloop/authloop/oauthtest"
)

// The device flow waits the interval the server names before each poll,
// or 5 seconds when it names none (RFC 8628 §3.2, §3.5), never less: when
// the device code expires before the first poll is allowed, the sign-in
// ends with ErrDeviceCodeExpired and no poll is sent (the server would
// have approved the first one).
func TestDevicePollWaitsTheInterval(t *testing.T) {
	for _, c := range []struct {
		name     string
		interval int // seconds; negative: none named
		ttl      time.Duration
	}{
		{"no interval named: 5 s", -1, 3 * time.Second},
		{"interval 10 s", 10, 8 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := oauthtest.NewFakeClock(epoch)
			srv := oauthtest.NewServer(oauthtest.Config{Clock: clock, DeviceInterval: c.interval, DeviceCodeTTL: c.ttl, DeviceAutoApprovePolls: 1})
			defer srv.Close()
			cfg := deviceConfig(srv)
			cfg.Clock = clock
			_, err := Login(context.Background(), cfg)
			if !errors.Is(err, ErrDeviceCodeExpired) {
				t.Fatalf("Login: %v, want ErrDeviceCodeExpired", err)
			}
			if n := srv.Count("token"); n != 0 {
				t.Fatalf("%d polls before the interval passed", n)
			}
		})
	}
}

// A device flow whose polls fail on the network (no answer at all) gives
// up after maxDeviceNetFailures in a row, saying so, instead of polling
// until the code expires.
func TestDevicePollGivesUpAfterNetworkFailures(t *testing.T) {
	fastDevicePolls(t)
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	srv.FailNext(2*maxDeviceNetFailures, oauthtest.Fault{Kind: oauthtest.FaultReset})
	_, err := Login(context.Background(), deviceConfig(srv))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("failed %d times in a row", maxDeviceNetFailures)) {
		t.Fatalf("Login: %v, want it to give up after %d failed polls", err, maxDeviceNetFailures)
	}
	if n := srv.Count("token"); n != maxDeviceNetFailures {
		t.Fatalf("%d polls, want %d", n, maxDeviceNetFailures)
	}
}
