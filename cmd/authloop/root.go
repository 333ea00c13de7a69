package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// app is one run of the command: its streams and the person's terminal.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	ui             *ui
	intr           interrupts
}

// silentExit ends the run with a code, its message already printed.
type silentExit int

func (e silentExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runWithInput executes one command and returns its exit status; a run
// stopped by a signal returns stopCode.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code, _ := execute(ctx, args, stdin, stdout, stderr)
	return code
}

// execute runs one command and returns its exit status and the signal
// that stopped it, if one did (the status is then stopCode).
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, os.Signal) {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, ui: newUI(stderr)}
	commandStarted()
	defer closeRedisClients()
	defer closeIDTokenSessions()
	root := a.rootCommand(args)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	a.ui.stopSpinner()
	if sig, note := a.intr.release(); sig != nil {
		a.stopped(err, sig, note)
		return stopCode(sig), sig
	}
	return a.exitCode(args, root, err), nil
}

// stopped reports a run that a signal stopped: the command's own failure,
// unless it is only the cancellation, then the signal and what became of
// the work under way.
func (a *app) stopped(err error, sig os.Signal, note string) {
	var se silentExit
	switch {
	case err == nil, errors.Is(err, context.Canceled):
	case errors.As(err, &se):
		return // its message is printed (demo)
	default:
		var ce *cliError
		if !errors.As(err, &ce) {
			ce = &cliError{code: exitFailure, err: err}
		}
		a.ui.fail(ce)
	}
	msg := "stopped by " + signalName(sig)
	if note != "" {
		msg += "; " + note
	}
	a.ui.printf("%s %s", a.ui.red("authloop:"), msg)
}

// exitCode reports err, if any, and returns the run's exit status.
func (a *app) exitCode(args []string, root *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	var se silentExit
	if errors.As(err, &se) {
		return int(se)
	}
	var ce *cliError
	if !errors.As(err, &ce) {
		// cobra's own errors: unknown command, bad flag, wrong arguments.
		ce = &cliError{code: exitUsage, err: usageMessage(err)}
	}
	if ce.code == exitUsage && ce.hint == "" {
		c, _, ferr := root.Find(args)
		if ferr != nil || c == nil {
			c = root
		}
		ce.hint = "run: " + c.CommandPath() + " --help"
	}
	a.ui.fail(ce)
	return ce.code
}

// commands are authloop's commands, in the order help lists them, each
// with the name its first argument is matched against.
func (a *app) commands() []namedCommand {
	return []namedCommand{
		{"login", a.loginCommand},
		{"token", a.tokenCommand},
		{"git-credential", a.gitCredentialCommand},
		{"status", a.statusCommand},
		{"refresh", a.refreshCommand},
		{"logout", a.logoutCommand},
		{"demo", a.demoCommand},
		{"version", a.versionCommand},
	}
}

type namedCommand struct {
	name  string
	build func() *cobra.Command
}

// rootCommand builds the command tree for a run with args. When args start
// with a command's name, only that command is built: a run of one command
// needs neither the others' flags nor their help, and building them all
// (login alone has fifteen flags) is a measurable part of the start-up of
// "authloop token" (issue 7). Anything else (no arguments, help,
// completion, an unknown or misspelt command) gets the whole tree, so that
// usage, help and suggestions list every command.
func (a *app) rootCommand(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "authloop",
		Short: "Sign in once with OAuth 2.1, then hand out fresh access tokens",
		Long: `authloop keeps an OAuth 2.1 sign-in alive for command-line tools.

Sign in once in the browser (or, without one, with a device code); from then
on "authloop token" prints a valid access token, refreshing it first when
needed, for scripts, curl, kubectl (exec credential plugin) and git
(credential helper). Settings are kept per profile, tokens in the OS keyring
or a private file, shared safely between processes.

` + exitCodesHelp,
		Example: `  authloop login --issuer https://auth.example.com --client-id my-cli --scope "openid offline_access"
  curl -H "Authorization: Bearer $(authloop token)" https://api.example.com/
  authloop status`,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(a.stderr, cmd.UsageString())
			return silentExit(exitUsage)
		},
	}
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "help prints the help of a command, with its flags and examples; without one, authloop's.",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, _, err := c.Root().Find(args)
			if cmd == nil || err != nil {
				// cobra's own help printed "Unknown help topic" and the
				// usage, and exited 0.
				return &cliError{code: exitUsage, err: fmt.Errorf("no command %q", strings.Join(args, " ")), hint: "run: authloop help (it lists the commands)"}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	})
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cliError{code: exitUsage, err: err, hint: "run: " + c.CommandPath() + " --help"}
	})
	cmds := a.commands()
	for _, c := range cmds {
		if len(args) > 0 && c.name == args[0] {
			cmds = []namedCommand{c}
			break
		}
	}
	if len(cmds) > 1 {
		// --version belongs to the root command alone, so only a run of
		// the root reads the build information.
		root.Version = versionString()
	}
	for _, c := range cmds {
		root.AddCommand(c.build())
	}
	return root
}

func (a *app) demoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "Sign in against an authorization server embedded in this process, and watch authloop keep the session alive",
		Long: `demo starts an OAuth 2.1 authorization server inside this process, signs in
against it (in your browser, or headless with --no-browser), then keeps the
session alive through background refreshes, rotated refresh tokens, a burst of
server errors and a revoked grant. Nothing leaves this machine; no token is
ever printed. --short signs in only.`,
		Example: "  authloop demo\n  authloop demo --no-browser --short",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := a.interruptible(cmd.Context())
			if code := runDemo(ctx, o, a.stdout, a.stderr); code != 0 {
				return silentExit(code)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.noBrowser, "no-browser", false, "do not open a browser: follow the sign-in with an HTTP client instead (headless)")
	fl.BoolVar(&o.short, "short", false, "sign in only; skip part 2 (background refresh, retries, a new sign-in)")
	fl.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the sign-in to finish")
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "log each step of the library at debug level to stderr (never a token)")
	return cmd
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  authloop version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(a.stdout, versionString())
		},
	}
}

// profileFlag adds --profile.
func profileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "profile", "p", defaultProfile, "the profile: a name for one sign-in's settings and tokens")
}

// splitScopes accepts --scope "a b", --scope a,b and repeated flags.
func splitScopes(in []string) []string {
	var out []string
	for _, s := range in {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
			if !contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
