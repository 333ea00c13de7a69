package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Limits of the credential helper's input: git sends a handful of short
// lines.
const (
	maxCredentialLine  = 64 << 10
	maxCredentialInput = 256 << 10
)

// gitCredential is a credential description of git's credential helper
// protocol (git-credential(1)): key=value attributes, one per line.
type gitCredential struct {
	attrs map[string][]string // keys ending in [] can repeat; others keep the last value
	order []string            // first appearance of each key
}

// get returns the value of key, or "".
func (c *gitCredential) get(key string) string {
	if vs := c.attrs[key]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

// parseGitCredential reads attributes until a blank line or the end of r.
// Lines without '=' and keys that are empty are errors, as are NUL bytes
// (git-credential(1): values may not contain NUL or newlines) and carriage
// returns other than a CRLF's. An "key[]=" line with an empty value clears
// that array, as git does.
func parseGitCredential(r io.Reader) (*gitCredential, error) {
	c := &gitCredential{attrs: map[string][]string{}}
	sc := bufio.NewScanner(io.LimitReader(r, maxCredentialInput))
	sc.Buffer(make([]byte, 0, 4096), maxCredentialLine)
	for sc.Scan() {
		line := sc.Text() // ScanLines has dropped the line's CRLF or LF
		if line == "" {
			return c, nil
		}
		if strings.IndexByte(line, 0) >= 0 {
			return nil, errors.New("git credential input: a NUL byte in a line")
		}
		if strings.IndexByte(line, '\r') >= 0 {
			return nil, errors.New("git credential input: a carriage return inside a line")
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("git credential input: line %q is not key=value", truncate(line, 40))
		}
		if _, seen := c.attrs[key]; !seen {
			c.order = append(c.order, key)
		}
		switch {
		case strings.HasSuffix(key, "[]") && value == "":
			c.attrs[key] = []string{}
		case strings.HasSuffix(key, "[]"):
			c.attrs[key] = append(c.attrs[key], value)
		default:
			c.attrs[key] = []string{value}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("git credential input: %w", err)
	}
	return c, nil
}

// format writes the attributes back in git's syntax, in order.
func (c *gitCredential) format(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, k := range c.order {
		vs := c.attrs[k]
		if strings.HasSuffix(k, "[]") && len(vs) == 0 {
			fmt.Fprintf(bw, "%s=\n", k)
		}
		for _, v := range vs {
			fmt.Fprintf(bw, "%s=%s\n", k, v)
		}
	}
	return bw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (a *app) gitCredentialCommand() *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "git-credential [--profile NAME] get|store|erase",
		Short: "Act as git's credential helper, answering with the profile's access token",
		Long: `git-credential speaks git's credential helper protocol (git-credential(1)),
so git can fetch and push over HTTPS with an OAuth access token.

  get    answers username and password (the access token, refreshed first when
         needed, never a browser) and password_expiry_utc, for a host that maps
         to a profile, over https (plain http only to this machine:
         127.0.0.0/8, [::1], localhost); for any other host or protocol it
         answers nothing, and git asks the next helper
  store  does nothing: authloop keeps its own tokens
  erase  git rejected the password: if it is the profile's current access
         token, it is refreshed now, so the next get answers a new one; the
         sign-in itself is never deleted (run authloop logout for that)
  Any other operation is ignored without a word (exit 0), as git asks of
  its helpers, so that it can add operations.

A host maps to a profile only if the profile lists it (authloop login
--git-host HOST, with its :port if the remote URL has one; case does not
matter): --profile (best in a host-specific git config entry) picks the
profile, else the first profile listing the host answers. A profile that
lists no git host answers for none, and says so on stderr.
The user name is the profile's --git-username: "oauth2" by default (GitLab,
Gitea, Bitbucket and most forges accept it), "x-access-token" for GitHub.

Without a usable token, get prints a hint to stderr and exits with status 3;
git then goes on as without the helper. A DPoP-bound token (login --dpop) is
never answered: git would send it without the proof it needs for each
request; get says so on stderr and exits 1 (a profile for git wants
login --dpop off).`,
		Example: `  # For one host, with a given profile (which lists it: authloop login --profile work --git-host git.example.com):
  git config --global credential.https://git.example.com.helper "!authloop git-credential --profile work"

  # Or for every host listed in some profile (authloop login --git-host git.example.com):
  git config --global credential.helper "!authloop git-credential"

  # What git does:
  printf 'protocol=https\nhost=git.example.com\n\n' | authloop git-credential get`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"get", "store", "erase"},
		RunE: func(cmd *cobra.Command, args []string) error {
			op := args[0]
			if op != "get" && op != "store" && op != "erase" {
				// gitcredentials(7): "If a helper receives any other
				// operation, it should silently ignore the request", so
				// that git can add operations.
				_, _ = io.Copy(io.Discard, io.LimitReader(a.stdin, 1<<20))
				return nil
			}
			name := ""
			if cmd.Flags().Changed("profile") {
				name = profile
			}
			used, err := a.gitCredential(cmd.Context(), op, name)
			return classify(err, used)
		},
	}
	cmd.Flags().StringVarP(&profile, "profile", "p", "", "the profile to answer with (default: the profile whose --git-host names the host)")
	return cmd
}

// gitCredential answers git, and returns the profile it used.
func (a *app) gitCredential(ctx context.Context, op, profile string) (string, error) {
	name, err := a.answerGit(ctx, op, profile)
	switch {
	case name != "":
	case profile != "":
		name = profile
	default:
		name = defaultProfile
	}
	return name, err
}

func (a *app) answerGit(ctx context.Context, op, profile string) (string, error) {
	in, err := parseGitCredential(a.stdin)
	if err != nil {
		return "", &cliError{code: exitFailure, err: err, hint: "git-credential reads what git sends: key=value lines, then a blank line (see git-credential(1))"}
	}
	if op == "store" {
		return "", nil
	}
	host := in.get("host")
	name, note, err := profileForHost(profile, host)
	if err == nil && name != "" && !gitRemoteSafe(in.get("protocol"), host) {
		name, note = "", fmt.Sprintf("not answering for %s://%s: the token goes only over https (plain http only to this machine)", sanitize(in.get("protocol")), sanitize(host))
	}
	if note != "" {
		noteGitRefusal(a.stderr, "%s", note)
	}
	if err != nil || name == "" {
		return "", err // no profile for this host: answer nothing
	}
	p, s, err := openSession(name, sessionOptions{ui: a.ui, intr: &a.intr})
	if err != nil {
		return name, err
	}
	defer a.closeSession(s, s.Cached())
	if op == "erase" {
		if cur := s.Cached(); cur != nil && in.get("password") == cur.AccessToken && s.CanRefresh() {
			_, err := s.Refresh(a.interruptible(ctx))
			return name, err
		}
		return name, nil
	}
	tok, err := a.freshToken(ctx, s, defaultMinValid, false)
	if err != nil {
		return name, err
	}
	if isDPoP(tok) {
		// git sends the password alone, with no proof: the server would
		// refuse it, and git would ask the next helper for nothing.
		return name, noProofError(name, "git")
	}
	out := &gitCredential{attrs: map[string][]string{}}
	set := func(k, v string) {
		out.order = append(out.order, k)
		out.attrs[k] = []string{v}
	}
	for _, k := range []string{"protocol", "host", "path"} {
		if v := in.get(k); v != "" {
			set(k, v)
		}
	}
	set("username", p.gitUsername())
	set("password", tok.AccessToken)
	if !tok.Expiry.IsZero() {
		set("password_expiry_utc", strconv.FormatInt(tok.Expiry.Unix(), 10))
	}
	return name, out.format(a.stdout)
}

// profileForHost returns the profile that answers for host: profile if
// set and it lists host, else the first profile listing host, else "" (git
// then asks the next helper), with a note for the person when a profile was
// meant but lists no such host.
func profileForHost(profile, host string) (name, note string, err error) {
	if profile != "" {
		p, err := loadProfile(profile)
		if err != nil {
			return "", "", err
		}
		if host == "" {
			return "", "git asked with no host= line (a helper gets protocol= and host=, not url=): nothing to answer", nil
		}
		if gitHostListed(p.GitHosts, host) {
			return profile, "", nil
		}
		add := ""
		for _, h := range p.GitHosts {
			add += " --git-host " + h
		}
		add += " --git-host " + sanitize(host)
		if len(p.GitHosts) == 0 {
			return "", fmt.Sprintf("profile %s lists no git host, so it answers for none: if %s is the server of this sign-in, add it with authloop login --profile %s%s", profile, sanitize(host), profile, add), nil
		}
		return "", fmt.Sprintf("profile %s does not list the git host %s: if it is the server of this sign-in, add it with authloop login --profile %s%s", profile, sanitize(host), profile, add), nil
	}
	if host == "" {
		return "", "", nil
	}
	names, err := listProfiles()
	if err != nil {
		return "", "", err
	}
	anyHosts := false
	for _, n := range names {
		p, err := loadProfile(n)
		if err != nil {
			continue
		}
		anyHosts = anyHosts || len(p.GitHosts) > 0
		if gitHostListed(p.GitHosts, host) {
			return n, "", nil
		}
	}
	if !anyHosts {
		return "", fmt.Sprintf("no profile lists a git host, so none answers for %s: if it is the server of a sign-in, add it with authloop login --profile NAME --git-host %s", sanitize(host), sanitize(host)), nil
	}
	return "", "", nil
}
