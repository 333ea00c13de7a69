// Command authloop signs a person in to an OAuth 2.1 authorization server
// once and then hands out fresh access tokens, to the person, to scripts
// and to other programs as their credential helper:
//
//	authloop login --issuer https://auth.example.com --client-id my-cli --scope "openid offline_access"
//	curl -H "Authorization: Bearer $(authloop token)" https://api.example.com/
//
// Commands: login, token, git-credential, status, refresh, logout, demo and
// version; `authloop help COMMAND` explains each, with examples. Exit
// codes, the same for every command (exitTable): 0 success, 1 failure
// (local ones too), 2 usage error, 3 login required, 4 a remote server
// unreachable or failing (try again later); a run stopped by a signal
// (Ctrl+C, SIGTERM, SIGHUP) ends as that signal would have (a shell shows
// 128 + its number: 130, 143, 129), after saving what it had received.
package main

import (
	"context"
	"io"
	"os"
)

func main() {
	code, stoppedBy := execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if stoppedBy != nil {
		dieOf(stoppedBy)
	}
	os.Exit(code)
}

// run executes one command with no standard input and returns the exit
// status (see the exit* constants).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWithInput(ctx, args, eofReader{}, stdout, stderr)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
