// Command authloop signs a person in to an OAuth 2.1 authorization server
// once and then hands out fresh access tokens. This version offers the demo:
//
//	authloop demo [--no-browser] [--short]   sign in against a test server embedded in the
//	                                          process, then keep the session alive
//	authloop version               print the version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// After the first Ctrl-C the demo winds down; a second one ends the
	// process at once, as usual.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the exit status: 0 done, 1 failed,
// 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "authloop: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `authloop keeps an OAuth 2.1 sign-in alive for command-line tools.

Usage:
  authloop demo [--no-browser] [--short]
                      sign in against an authorization server embedded in this process,
                      then watch authloop keep the session alive (--short: sign in only)
  authloop version    print the version

Run "authloop demo -h" for the demo's flags.
`)
}
