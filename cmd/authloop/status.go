package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authloop/authloop/store"
	"github.com/authloop/authloop/store/redisstore"
)

// profileStatus is one profile's line of `authloop status`, and its object
// in --json.
type profileStatus struct {
	Profile       string     `json:"profile"`
	Issuer        string     `json:"issuer"`
	Resource      string     `json:"resource,omitempty"`
	ClientID      string     `json:"client_id,omitempty"`
	Registered    bool       `json:"client_registered,omitempty"`     // registered by login (no --client-id)
	SecretExpired bool       `json:"client_secret_expired,omitempty"` // the registered client's secret expired: its refresh token cannot be used
	Account       string     `json:"account,omitempty"`
	Scopes        []string   `json:"scopes,omitempty"`
	SignedIn      bool       `json:"signed_in"`
	Expiry        *time.Time `json:"access_token_expiry,omitempty"`
	Expired       bool       `json:"access_token_expired"`
	RefreshToken  bool       `json:"refresh_token"`
	RefreshExpiry *time.Time `json:"refresh_token_expiry,omitempty"`
	// TokenType is "DPoP" for a DPoP-bound token, else "Bearer" (or the
	// type the server named); DPoPJKT the thumbprint (RFC 7638) of the
	// profile's DPoP key, when it has one: never the key.
	TokenType string `json:"token_type,omitempty"`
	DPoPJKT   string `json:"dpop_jkt,omitempty"`
	Store     string `json:"store"`
	LoginMode string `json:"login_mode"`
	// Grant is a program's profile's mode (login --client-credentials,
	// --jwt-bearer-token-file or -env, --id-token-from): client-credentials,
	// jwt-bearer or enterprise; never a secret or a token.
	Grant         string `json:"grant,omitempty"`
	Error         string `json:"error,omitempty"`
	LoginRequired bool   `json:"login_required"`
	// Previous are sign-ins the profile had before it was switched to
	// another issuer, client or resource, still kept (retire.go).
	Previous []previousSignIn `json:"previous_sign_ins,omitempty"`

	corrupt bool   // the record file is corrupt
	grant   string // the grant in words (grantWords)
}

func (a *app) statusCommand() *cobra.Command {
	var (
		profile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "status [flags]",
		Short: "Show each profile's sign-in: server, account, scopes, token expiry, store",
		Long: `status prints one line per profile (or only --profile's): the issuer or
resource, the client login registered (when no --client-id was given; and
whether its client secret expired, which needs a new login), the
account (from the ID token), the granted scopes, when the access
token expires, whether a refresh token is held and until when, the token's
type (Bearer, or DPoP: bound to the profile's key) and the key's thumbprint
(RFC 7638, never the key), and which store keeps it, and a previous sign-in that a switch to another issuer, client or
store left behind. It makes no network request and never refreshes. --json prints the
same as a JSON array.

The exit status is 0 when every profile shown is signed in with a usable or
refreshable token, 3 when some profile needs a new login, 1 when some
profile could not be read (its line says why), 4 when those that could not be
read keep their tokens in a Redis that cannot be reached (try again later).`,
		Example: `  authloop status
  authloop status --profile work --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if cmd.Flags().Changed("profile") {
				name = profile
			}
			return classify(a.status(cmd.Context(), name, asJSON), profile)
		},
	}
	profileFlag(cmd, &profile)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) status(ctx context.Context, only string, asJSON bool) error {
	names := []string{only}
	if only == "" {
		var err error
		if names, err = listProfiles(); err != nil {
			return err
		}
	}
	if len(names) == 0 {
		if asJSON {
			fmt.Fprintln(a.stdout, "[]")
		} else {
			fmt.Fprintln(a.stdout, "No profiles yet.")
		}
		return &cliError{code: exitLoginRequired, err: errors.New("no profile is signed in"), hint: "run: authloop login --issuer URL --client-id ID"}
	}
	var all []profileStatus
	needLogin := false
	var broken []string            // profiles that could not be read: not a login's fault
	var unreachableRedis *cliError // the last broken profile whose Redis could not be reached
	unreachableOnly := true        // every broken profile's Redis could not be reached
	for _, n := range names {
		st, err := statusOf(n)
		if err != nil && only != "" {
			return err
		}
		if err != nil {
			if st.Profile == "" {
				st = profileStatus{Profile: n, Error: err.Error()}
			}
			ce := explainRedis(err, n)
			if ce != nil {
				st.Error = ce.Error() // Redis's URL, not redisstore's words
			}
			if ce != nil && ce.code == exitUnreachable {
				unreachableRedis = ce
			} else {
				unreachableOnly = false
			}
			broken = append(broken, n)
		}
		needLogin = needLogin || st.LoginRequired
		all = append(all, st)
	}
	now := time.Now()
	if asJSON {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\n", b)
	} else {
		for _, st := range all {
			fmt.Fprintln(a.stdout, a.statusLine(st, now))
		}
	}
	if len(broken) > 0 && unreachableOnly {
		// Nothing is wrong with the profiles: their Redis is down, which
		// may pass (exit 4, as every command of such a profile).
		return &cliError{code: exitUnreachable, err: fmt.Errorf("could not read profile %s: %s", strings.Join(broken, ", "), unreachableRedis.Error()), hint: unreachableRedis.hint}
	}
	if len(broken) > 0 {
		return &cliError{code: exitFailure, err: fmt.Errorf("could not read profile %s", strings.Join(broken, ", ")),
			hint: "run: authloop status --profile " + broken[0] + " (it says what failed and what to do)"}
	}
	if needLogin {
		msg, hint := "some profiles need a new login", "run: authloop login --profile NAME"
		if len(names) == 1 {
			msg, hint = "profile "+names[0]+" needs a new login", loginHint(names[0])
			if all[0].corrupt {
				msg, hint = corruptMessage(names[0]), corruptHint(names[0])
			}
		}
		return &cliError{code: exitLoginRequired, err: errors.New(msg), hint: hint}
	}
	return nil
}

// statusOf reads a profile's record, without any network request.
func statusOf(name string) (profileStatus, error) {
	p, s, err := openSession(name, sessionOptions{})
	if err != nil {
		if p == nil {
			return profileStatus{}, err
		}
		if errors.Is(err, store.ErrCorrupt) && !errors.Is(err, redisstore.ErrNewerSchema) {
			return profileStatus{Profile: name, Issuer: p.Issuer, Resource: p.Resource, Error: corruptMessage(name), LoginRequired: true, corrupt: true}, nil
		}
		// A local problem (a client secret that is not there, a store
		// that cannot be opened): a new login would not help.
		return profileStatus{Profile: name, Issuer: p.Issuer, Resource: p.Resource, Error: err.Error()}, err
	}
	defer s.Close()
	st := profileStatus{
		Profile:   name,
		Issuer:    p.Issuer,
		Resource:  p.Resource,
		Store:     s.Store().Describe(),
		LoginMode: p.LoginMode,
		Grant:     p.Grant,
		grant:     grantWords(p),
	}
	if st.LoginMode == "" {
		st.LoginMode = "auto"
	}
	st.ClientID = p.ClientID
	if c := registeredClient(context.Background(), p, s); c != nil {
		st.ClientID, st.Registered, st.SecretExpired = c.ClientID, true, secretExpired(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	for _, e := range previousSignIns(ctx, s.Store(), p, s.Key()) {
		ps := previousSignIn{Issuer: e.Issuer, ClientID: e.ClientID, Resource: e.Resource, in: otherStore(e, p)}
		if ps.in != "" {
			ps.Store = e.In.Store
		}
		st.Previous = append(st.Previous, ps)
	}
	cancel()
	st.DPoPJKT = s.DPoPThumbprint()
	tok := s.Cached()
	if tok == nil || tok.AccessToken == "" {
		st.LoginRequired = p.Grant == "" // a program's grant needs no person
		return st, nil
	}
	st.SignedIn = true
	st.TokenType = tokenTypeOf(tok)
	st.Account = account(tok)
	st.Scopes = scopesOf(tok)
	if !tok.Expiry.IsZero() {
		e := tok.Expiry.UTC().Truncate(time.Second)
		st.Expiry = &e
		st.Expired = !time.Now().Before(tok.Expiry)
	}
	st.RefreshToken = s.CanRefresh()
	if t, ok := refreshExpiry(tok); ok && st.RefreshToken {
		t = t.UTC().Truncate(time.Second)
		st.RefreshExpiry = &t
	}
	st.LoginRequired = p.Grant == "" && st.Expired && (!st.RefreshToken || st.SecretExpired || (st.RefreshExpiry != nil && !time.Now().Before(*st.RefreshExpiry)))
	return st, nil
}

// statusLine renders one profile in words, and its previous sign-ins.
func (a *app) statusLine(st profileStatus, now time.Time) string {
	line := a.statusWords(st, now)
	for _, p := range st.Previous {
		line += " — " + a.ui.yellow("still holds a previous sign-in at "+describeSignIn(store.Key{Issuer: p.Issuer, ClientID: p.ClientID, Resource: p.Resource})+p.in+": the next login or a logout ends it")
	}
	return line
}

// statusWords renders one profile's sign-in in words.
func (a *app) statusWords(st profileStatus, now time.Time) string {
	u := a.ui
	var b strings.Builder
	b.WriteString(u.bold(st.Profile))
	b.WriteString(": ")
	b.WriteString(st.Issuer)
	if st.Resource != "" {
		b.WriteString(" for " + st.Resource)
	}
	if st.Registered {
		b.WriteString(" — registered client " + sanitize(st.ClientID))
		if st.SecretExpired {
			b.WriteString(" (" + u.red("client secret expired") + ": the next login registers anew)")
		}
	}
	if st.grant != "" {
		b.WriteString(" — " + st.grant)
	}
	if st.Error != "" {
		b.WriteString(" — " + u.red("error: "+tidy(st.Error)))
		return b.String()
	}
	if !st.SignedIn && st.Grant != "" {
		b.WriteString(" — no token yet (authloop token runs the grant)")
		return b.String()
	}
	if !st.SignedIn {
		b.WriteString(" — " + u.yellow("not signed in"))
		return b.String()
	}
	if st.Account != "" {
		b.WriteString(" as " + st.Account)
	}
	if len(st.Scopes) > 0 {
		b.WriteString(" — scopes: " + strings.Join(st.Scopes, " "))
	}
	switch {
	case st.Expiry == nil:
		b.WriteString(" — access token without expiry")
	case st.Expired:
		b.WriteString(" — access token " + u.yellow(relative(*st.Expiry, now, "expired")))
	default:
		b.WriteString(" — access token expires " + relative(*st.Expiry, now, "expired"))
	}
	switch {
	case !st.RefreshToken && st.Grant != "":
		b.WriteString(" — no refresh token (the grant runs again)")
	case !st.RefreshToken:
		b.WriteString(" — no refresh token")
	case st.RefreshExpiry != nil:
		b.WriteString(" — refresh token valid until " + st.RefreshExpiry.Local().Format("2006-01-02 15:04") + " (" + relative(*st.RefreshExpiry, now, "expired") + ")")
	default:
		b.WriteString(" — refresh token held (no expiry given)")
	}
	if st.LoginRequired {
		b.WriteString(" — " + u.red("login required"))
	}
	b.WriteString(" — " + sanitize(st.TokenType) + " token")
	if st.DPoPJKT != "" {
		b.WriteString(" — DPoP key: thumbprint " + st.DPoPJKT)
	}
	b.WriteString(" — " + st.Store)
	return b.String()
}

// previousSignIn is a previous sign-in of a profile in status --json.
type previousSignIn struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	Resource string `json:"resource,omitempty"`
	// Store is the store that keeps it ("file", "keyring" or a Redis URL,
	// never with a password) when that is not the profile's store.
	Store string `json:"store,omitempty"`

	in string // " in the file store", " in Redis at URL", or ""
}
