package peers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The clients that oidc-provider's configuration (oidc/server.mjs) holds.
const (
	OIDCNativeClientID           = "authloop-native"
	OIDCConfidentialClientID     = "authloop-confidential"
	OIDCConfidentialClientSecret = "authloop-confidential-secret-0123456789"
	// OIDCResource is the resource server oidc-provider knows (besides any
	// http://127.0.0.1:<port>/mcp, for MCP servers on loopback): a token for
	// it is a JWT whose aud is this URL.
	OIDCResource = "https://mcp.example.test/mcp"
)

// OIDCProviderOptions configure an oidc-provider instance.
type OIDCProviderOptions struct {
	// Dir is the directory holding package.json, package-lock.json and
	// server.mjs (integration/oidc).
	Dir string
	// AccessTokenTTL is ttl.AccessToken; 0 means one hour.
	AccessTokenTTL time.Duration
	// DPoPNonce makes the server require a nonce of its own in every DPoP
	// proof (features.dPoP.requireNonce, RFC 9449 §8 and §9): a proof
	// without one is answered use_dpop_nonce with a DPoP-Nonce header.
	DPoPNonce bool
}

// OIDCProvider is a running oidc-provider (node oidc/server.mjs).
type OIDCProvider struct {
	Issuer  string
	Version string // of the oidc-provider package installed

	proc *process
	http *http.Client
}

// NPMInstall runs `npm ci` in dir unless node_modules already holds the
// oidc-provider version that package-lock.json pins.
func NPMInstall(ctx context.Context, dir string) error {
	want, err := lockedVersion(dir)
	if err != nil {
		return err
	}
	if have, err := installedVersion(dir); err == nil && have == want {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("%w: npm is not installed (Node.js 20 or later with npm is needed for oidc-provider)", errUnavailable)
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}

func lockedVersion(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return "", err
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return "", fmt.Errorf("package-lock.json: %w", err)
	}
	v := lock.Packages["node_modules/oidc-provider"].Version
	if v == "" {
		return "", errors.New("package-lock.json pins no oidc-provider")
	}
	return v, nil
}

func installedVersion(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct {
		Version string `json:"version"`
	}
	err = json.Unmarshal(b, &pkg)
	return pkg.Version, err
}

// StartOIDCProvider installs oidc-provider when needed and starts
// oidc/server.mjs on a free loopback port, waiting for its "ready" line and
// its discovery document.
func StartOIDCProvider(ctx context.Context, opts OIDCProviderOptions) (*OIDCProvider, error) {
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("%w: node is not installed (Node.js 20 or later is needed for oidc-provider)", errUnavailable)
	}
	if err := NPMInstall(ctx, opts.Dir); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startOIDCProvider(ctx, opts)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOIDCProvider(ctx context.Context, opts OIDCProviderOptions) (p *OIDCProvider, err error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	p = &OIDCProvider{
		Issuer: "http://" + hostPort(ports[0]),
		http:   &http.Client{Timeout: 10 * time.Second},
	}
	p.Version, err = installedVersion(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(ports[0]),
		"ACCESS_TOKEN_TTL="+strconv.Itoa(int(opts.AccessTokenTTL/time.Second)),
		"RESOURCE="+OIDCResource,
	)
	if opts.DPoPNonce {
		cmd.Env = append(cmd.Env, "DPOP_NONCE=1")
	}
	p.proc, err = startProcess("oidc-provider", cmd)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = p.proc.waitFor(wctx, `"ready" and discovery`, func(ctx context.Context) error {
		if !hasLine(p.proc.output(), "ready ") {
			return errors.New("not ready yet")
		}
		return getOK(ctx, p.http, p.Issuer+"/.well-known/openid-configuration")
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func hasLine(out, prefix string) bool {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return true
		}
	}
	return false
}

// Stop stops node.
func (p *OIDCProvider) Stop() {
	if p == nil {
		return
	}
	if p.proc != nil {
		p.proc.stop(5 * time.Second)
	}
	p.http.CloseIdleConnections()
}

// Output returns what the server printed so far.
func (p *OIDCProvider) Output() string { return p.proc.output() }

// NewPublicClient registers a fresh native public client by dynamic client
// registration (RFC 7591, at /reg): the harness's own request, not
// authloop's.
func (p *OIDCProvider) NewPublicClient(ctx context.Context) (Client, error) {
	return p.NewShortLivedClient(ctx, 0)
}

// NewShortLivedClient is NewPublicClient with access tokens that live ttl
// (whole seconds; 0 means the server's default).
func (p *OIDCProvider) NewShortLivedClient(ctx context.Context, ttl time.Duration) (Client, error) {
	meta := map[string]any{
		"client_name":                "authloop integration",
		"application_type":           "native",
		"token_endpoint_auth_method": "none",
		"redirect_uris":              []string{"http://127.0.0.1/callback"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access mcp:tools",
	}
	if ttl > 0 {
		meta["authloop_access_token_ttl"] = int(ttl / time.Second)
	}
	body, err := json.Marshal(meta)
	if err != nil {
		return Client{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+"/reg", bytes.NewReader(body))
	if err != nil {
		return Client{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		ClientID string `json:"client_id"`
	}
	if err := doJSON(p.http, req, &out); err != nil {
		return Client{}, err
	}
	if out.ClientID == "" {
		return Client{}, errors.New("oidc-provider: registered client has no client_id")
	}
	return Client{ID: out.ClientID}, nil
}

// Revoke revokes a token at the RFC 7009 revocation endpoint, as a public
// client (client_id in the body) or with client_secret_basic.
func Revoke(ctx context.Context, hc *http.Client, endpoint string, c Client, token, hint string) error {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	if c.Secret == "" {
		form.Set("client_id", c.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Secret != "" {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	return doJSON(hc, req, nil)
}
