// Command authloop signs a person in to an OAuth 2.1 authorization server
// once and then hands out fresh access tokens, to the person, to scripts
// and to other programs as their credential helper:
//
//	authloop login --issuer https://auth.example.com --client-id my-cli --scope "openid offline_access"
//	curl -H "Authorization: Bearer $(authloop token)" https://api.example.com/
//
// Commands: login, token, git-credential, status, refresh, logout, demo and
// version; `authloop help COMMAND` explains each, with examples. Exit
// codes: 0 success, 1 failure, 2 usage error, 3 login required, 4 server
// unreachable or failing (try again later).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(runWithInput(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command with no standard input and returns the exit
// status (see the exit* constants).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWithInput(ctx, args, eofReader{}, stdout, stderr)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// interruptible returns ctx, cancelled by the first Ctrl+C (or SIGTERM):
// the command then winds down (a login closes its listener, a refresh
// stops waiting); a second Ctrl+C ends the process at once, as usual.
// Commands call it before they wait for the network or the person; the
// fast path of `authloop token` never does, so that it starts no signal
// handling goroutines (and the threads they cost) at all.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}
