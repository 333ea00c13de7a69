package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/store"
)

func (a *app) logoutCommand() *cobra.Command {
	var (
		profile string
		all     bool
		forget  bool
	)
	cmd := &cobra.Command{
		Use:   "logout [flags]",
		Short: "Revoke the tokens at the server and delete them here",
		Long: `logout ends the profile's sign-in: it revokes the refresh token at the server
(RFC 7009) when the server offers revocation, then deletes the tokens from the
store, even if the revocation failed (it then says that the grant may live on
at the server). A delete the store refuses, or cannot be reached for (Redis),
is said as such, apart from the revocation: the record remains, logout exits
4 (Redis unreachable) or 1 and says what to run once the store answers, and
--forget keeps the profile, which names the record. It ends a previous sign-in of the profile that a switch to
another issuer or client left behind in the same way, and deletes a corrupt
record file (nothing can be revoked for it). The profile's settings are
kept, so "authloop login --profile NAME" signs in again without flags;
--forget deletes them too. --all logs out of every profile. A client that
login registered (no --client-id) is deleted here with the tokens, which
were issued to it; the next login registers a new one (the old registration
stays at the server, holding no tokens).`,
		Example: `  authloop logout
  authloop logout --profile work --forget
  authloop logout --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && cmd.Flags().Changed("profile") {
				return usageError("--all and --profile contradict each other")
			}
			names := []string{profile}
			if all {
				var err error
				if names, err = listProfiles(); err != nil {
					return classify(err, profile)
				}
				if len(names) == 0 {
					a.ui.printf("No profiles: nothing to log out of.")
					return nil
				}
			}
			ctx := a.interruptible(cmd.Context())
			var first error
			for _, n := range names {
				if err := a.logout(ctx, n, forget); err != nil {
					err = classify(err, n)
					if len(names) > 1 {
						a.ui.fail(err)
					}
					if first == nil {
						first = err
					}
				}
			}
			if first != nil && len(names) > 1 {
				var ce *cliError
				if errors.As(first, &ce) {
					return silentExit(ce.code)
				}
			}
			return first
		},
	}
	profileFlag(cmd, &profile)
	cmd.Flags().BoolVar(&all, "all", false, "log out of every profile")
	cmd.Flags().BoolVar(&forget, "forget", false, "also delete the profile's settings")
	return cmd
}

func (a *app) logout(ctx context.Context, name string, forget bool) error {
	p, err := loadProfile(name)
	if errors.Is(err, errNoProfile) {
		return &cliError{code: exitFailure, err: fmt.Errorf("there is no profile %q: nothing to log out of", name), hint: "run: authloop status (it lists the profiles)"}
	}
	if err != nil {
		return err
	}
	st, _, err := openStore(p)
	if err != nil {
		return err
	}
	replaceRecordInClear(st) // a record a sealed profile refuses: deleted, not revoked
	cc := &clearCorrupt{Store: st, remove: true}
	w := &deleteWatch{Store: cc}
	cfg, err := configFor(p, keepLease(w, st), sessionOptions{ui: a.ui})
	if err != nil {
		return err
	}
	// Find the revocation endpoint here, to say whether the server revoked.
	var discErr error
	cfg.RevocationURL, discErr = revocationEndpoint(ctx, p.Issuer)
	s, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	u := a.ui
	tok := s.Cached()
	had := tok != nil
	dead := endedBefore(tok, time.Now())
	reg := registeredClient(ctx, p, s)
	err = s.Logout(ctx)
	tried, delErr := w.deleted()
	if err != nil && had && !tried {
		// Logout did nothing (it could not take the record's lock, or a
		// stop signal ended the wait for it; the revocation comes after the
		// lock, the delete after the revocation): never say otherwise (the
		// error does not wrap the cancellation, which the stop message
		// would take in silence).
		return nothingDone(err, name)
	}
	// What is left of the error once the store's are taken out is the
	// revocation's: the delete's outcome is told on its own.
	err = w.revocationErr(err)
	var refusal *authloop.OAuthError
	if err != nil && errors.As(err, &refusal) && refusal.Code == "invalid_token" {
		// The server knew the token no longer (RFC 7009 §2.2 would answer
		// 200; some servers say so).
		dead, err = "the server says its token was already invalid", nil
	}
	corrupt, _ := cc.cleared()
	if had && delErr != nil {
		// The record is still in the store: never say it was deleted, nor
		// forget the profile that names where it is.
		return recordRemains(name, "the "+s.Store().Describe(), delErr, err, dead, cfg.RevocationURL, discErr)
	}
	switch {
	case !had && corrupt:
		u.printf("%s Deleted the corrupt record file of profile %s (its tokens could not be read, so nothing was revoked at the server).", u.green("✓"), u.bold(name))
	case !had:
		u.printf("Profile %s was not signed in.", u.bold(name))
	case err != nil:
		// Told below, once, as the command's error.
	case dead != "":
		u.printf("%s Logged out of profile %s: its sign-in had already ended (%s); the tokens are deleted.", u.green("✓"), u.bold(name), dead)
	case cfg.RevocationURL != "":
		u.printf("%s Logged out of profile %s: the server revoked the grant, and the tokens are deleted.", u.green("✓"), u.bold(name))
	case discErr != nil:
		u.printf("%s Logged out of profile %s: the tokens are deleted; the server's metadata could not be read, so the grant may live on there until it expires.", u.yellow("!"), u.bold(name))
	default:
		u.printf("%s Logged out of profile %s: the tokens are deleted (the server offers no revocation endpoint, so the grant lives on there until it expires).", u.green("✓"), u.bold(name))
	}
	a.sayRegistrationForgotten(reg, s)
	// A sign-in the profile had before it was switched to another
	// issuer or client, and that a login could not end, ends here too.
	prevErr := a.endPrevious(ctx, p, s.Key(), true, nil)
	if forget {
		if err := deleteProfile(name); err != nil {
			return fmt.Errorf("deleting profile %q: %w", name, err)
		}
		u.printf("  Deleted the settings of profile %s.", u.bold(name))
	}
	if err != nil && had {
		why := "the revocation failed: " + failure(err)
		if errors.As(err, &refusal) && refusal.Code == "unsupported_token_type" {
			why = "the server does not revoke this kind of token (unsupported_token_type)"
		}
		return &cliError{code: exitFailure, err: messageError{"deleted the tokens of profile " + name + " here, but " + why + "; the grant may live on there", err},
			hint: "revoke it in the server's account settings if it matters; authloop no longer holds its tokens"}
	}
	if prevErr != nil {
		return &cliError{code: exitFailure, err: errors.New("a previous sign-in of profile " + name + " was not ended whole (see above)"), hint: "revoke its grant in the server's account settings if it matters"}
	}
	return nil
}

// nothingDone is logout's error when Session.Logout revoked and deleted
// nothing (err: why); it does not wrap err.
func nothingDone(err error, name string) error {
	why := failure(err)
	code := exitFailure
	hint := "run: authloop logout --profile " + name + " again (another authloop process may hold the profile's lock while it refreshes)"
	ce := explainRedis(err, name)
	switch {
	case ce != nil && ce.code == exitUnreachable:
		// The profile's Redis (not "the server", the authorization
		// server's), also when it hung while the lock was waited for.
		why, code = strings.TrimSuffix(ce.err.Error(), "; the tokens are kept there"), ce.code
		hint = ce.hint + "; then run: authloop logout --profile " + name
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrLockTimeout):
		why = "stopped while waiting for the profile's lock"
	case ce != nil:
		why, code = strings.TrimSuffix(ce.err.Error(), "; the tokens are kept there"), ce.code
		hint = ce.hint + "; then run: authloop logout --profile " + name
	}
	// Not wrapping err: a stop signal's message would take the
	// cancellation in it in silence.
	return &cliError{code: code, err: errors.New("logout of profile " + name + " failed, nothing was revoked or deleted: " + why), hint: hint}
}

// recordRemains is logout's error when its delete of the record failed
// (delErr): what became of the grant at the server (revErr: the
// revocation's error; dead, revocationURL and discErr as logout knows
// them), and that the record remains in where, the store.
func recordRemains(name, where string, delErr, revErr error, dead, revocationURL string, discErr error) error {
	var rev string
	switch {
	case revErr != nil:
		rev = "the revocation failed (" + revocationFailure(revErr) + ")"
	case dead != "":
		rev = "its sign-in had already ended (" + dead + ")"
	case revocationURL != "":
		rev = "the server revoked the grant"
	case discErr != nil:
		rev = "the server's metadata could not be read, so the grant may live on there"
	default:
		rev = "the server offers no revocation endpoint, so the grant lives on there until it expires"
	}
	code, why := exitFailure, "the delete failed: "+clip(storeCause(delErr), 60)
	later := "fix the store; then run: authloop logout --profile " + name + " (it deletes the record)"
	var re *redisError
	if errors.As(delErr, &re) {
		where = "Redis at " + re.url
		switch ce := explainRedis(delErr, name); {
		case ce.code == exitUnreachable:
			code, why = exitUnreachable, "it could not be reached"
			if np := netProblem(delErr); np != "" {
				why += " (" + np + ")"
			}
			later = "when Redis answers again, run: authloop logout --profile " + name + " (it deletes the record)"
		case errors.Is(delErr, store.ErrLeaseLost):
			why = "it refused the delete: the profile's lock passed to another process meanwhile"
			later = "run: authloop logout --profile " + name + " again (another authloop process may hold the profile's lock)"
		default:
			code, why = ce.code, "it refused the delete"
			later = ce.hint + "; then run: authloop logout --profile " + name
		}
	}
	msg := "logout of profile " + name + ": " + rev + ", but the record remains in " + where + ": " + why
	// Not wrapping the errors: a stop signal's message would take a
	// cancellation of the revocation in silence, and the record remains.
	return &cliError{code: code, err: errors.New(msg), hint: later}
}

// endedBefore says why tok's sign-in had ended by now, when that is known
// without asking the server: its refresh token had expired, or it had no
// refresh token and its access token had expired. "" when it may live.
func endedBefore(tok *oauth2.Token, now time.Time) string {
	if tok == nil {
		return ""
	}
	if tok.RefreshToken != "" {
		if exp, ok := refreshExpiry(tok); ok && !now.Before(exp) {
			return "its refresh token expired " + roundDuration(now.Sub(exp)) + " ago"
		}
		return ""
	}
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return "its access token expired " + roundDuration(now.Sub(tok.Expiry)) + " ago, and it held no refresh token"
	}
	return ""
}

// metadataTimeout bounds a lookup of a server's metadata that the command
// makes itself (the library bounds its own).
const metadataTimeout = 10 * time.Second

// revocationEndpoint looks up issuer's revocation endpoint ("" when it
// offers none) in its metadata, within metadataTimeout: http.DefaultClient
// never gives up on a server that accepts the connection and does not
// answer.
func revocationEndpoint(ctx context.Context, issuer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	md, err := discovery.AuthServer(ctx, http.DefaultClient, issuer)
	if err != nil {
		return "", err
	}
	return md.RevocationEndpoint, nil
}

// failure says in a few words why a request failed: the server's answer
// or how it could not be reached, else the error itself.
func failure(err error) string {
	var (
		oe  *authloop.OAuthError
		tre *authloop.TokenResponseError
	)
	if errors.As(err, &oe) || errors.As(err, &tre) || unreachable(err) {
		return "the server " + serverProblem(err)
	}
	return clip(tidy(err.Error()), 80)
}

// recordKept reports whether the store still holds tokens for s's record,
// after a Logout that failed.
func recordKept(s *authloop.Session) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := s.Store().Load(ctx, s.Key())
	return err == nil && rec.Token != nil
}
