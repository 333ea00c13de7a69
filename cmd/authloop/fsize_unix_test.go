//go:build unix

package main

import (
	"os"
	"strconv"
	"syscall"
)

// limitEnv asks the test binary, started by a test with it set, to become
// the authloop binary (the rest of its arguments) under a file size limit
// of that many bytes (RLIMIT_FSIZE): a write past it fails with EFBIG, as
// on a full disk, for root too (root ignores file modes, not this limit).
// Go ignores SIGXFSZ, so the write returns the error.
const limitEnv = "AUTHLOOP_TEST_EXEC_FSIZE"

func execLimitedIfAsked() {
	v, ok := os.LookupEnv(limitEnv)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err == nil {
		var lim syscall.Rlimit
		setRlim(&lim.Cur, n) // int64 on some systems (FreeBSD), uint64 on others
		setRlim(&lim.Max, n)
		err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
	}
	if err == nil {
		env := make([]string, 0, len(os.Environ()))
		for _, e := range os.Environ() {
			if len(e) < len(limitEnv)+1 || e[:len(limitEnv)+1] != limitEnv+"=" {
				env = append(env, e)
			}
		}
		err = syscall.Exec(os.Args[1], os.Args[1:], env)
	}
	os.Stderr.WriteString("launcher: " + err.Error() + "\n")
	os.Exit(125)
}

// withFileSizeLimit returns a copy of c whose runs of the binary may write
// no file larger than n bytes.
func (c *cli) withFileSizeLimit(n int) *cli {
	exe, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	l := *c
	l.env = append(append([]string(nil), c.env...), limitEnv+"="+strconv.Itoa(n))
	l.launcher = exe
	return &l
}

// setRlim sets an Rlimit field, whatever its integer type here.
func setRlim[T int64 | uint64](p *T, n uint64) { *p = T(n) }
