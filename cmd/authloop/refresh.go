package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/authloop/authloop"
)

func (a *app) refreshCommand() *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "refresh [flags]",
		Short: "Refresh the access token now, and say what changed",
		Long: `refresh forces a refresh of the profile's tokens now (RFC 6749 §6), even if the
access token is still valid, and says what changed: the new access token's
expiry, and whether the server rotated the refresh token. Tokens are shown as
fingerprints (sha256:...), never in full. It never opens a browser: without a
working refresh token it exits with status 3. A program's profile (login
--client-credentials, --jwt-bearer-token-file, --id-token-from) runs its grant
anew.`,
		Example: `  authloop refresh
  authloop refresh --profile work`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return classify(a.refresh(a.interruptible(cmd.Context()), profile), profile)
		},
	}
	profileFlag(cmd, &profile)
	return cmd
}

func (a *app) refresh(ctx context.Context, name string) error {
	_, s, err := openSession(name, sessionOptions{ui: a.ui, intr: &a.intr})
	if err != nil {
		return err
	}
	old := s.Cached()
	defer a.closeSession(s, old)
	program := s.Key().Grant != ""
	switch {
	case program:
		// A program's profile: its grant runs anew (Login runs the grant,
		// never a browser).
		a.ui.startSpinner("Running the grant")
		tok, err := s.Login(ctx)
		a.ui.stopSpinner()
		if err := a.settleSave(s, tok, err, name, "obtained a token with the grant", lostOnExit(old, tok)); err != nil {
			return err
		}
		u := a.ui
		u.printf("%s Refreshed profile %s with its grant: new access token %s, %s.", u.green("✓"), u.bold(name), authloop.Fingerprint(tok.AccessToken), validUntil(tok))
		return nil
	case old == nil:
		return &authloop.LoginRequiredError{Reason: "no token yet"}
	case !s.CanRefresh():
		return &authloop.LoginRequiredError{Reason: "no refresh token"}
	}
	a.ui.startSpinner("Refreshing")
	tok, err := s.Refresh(ctx)
	a.ui.stopSpinner()
	if err := a.settleSave(s, tok, err, name, "refreshed", lostOnExit(old, tok)); err != nil {
		return err
	}
	u := a.ui
	u.printf("%s Refreshed profile %s: new access token %s, %s.", u.green("✓"), u.bold(name), authloop.Fingerprint(tok.AccessToken), validUntil(tok))
	switch {
	case tok.RefreshToken == "":
		u.printf("  The server sent no refresh token: a new login will be needed when this one expires.")
	case tok.RefreshToken != old.RefreshToken:
		u.printf("  Refresh token rotated: %s replaces %s.", authloop.Fingerprint(tok.RefreshToken), authloop.Fingerprint(old.RefreshToken))
	default:
		u.printf("  Refresh token not rotated: %s kept.", authloop.Fingerprint(tok.RefreshToken))
	}
	return nil
}

// validUntil says until when tok is valid, in words.
func validUntil(tok *oauth2.Token) string {
	if tok.Expiry.IsZero() {
		return "without expiry"
	}
	return "valid until " + tok.Expiry.Local().Format("15:04:05") + " (" + relative(tok.Expiry, time.Now(), "expired") + ")"
}
