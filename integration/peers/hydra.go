package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// HydraModule is the Go package of the Hydra binary, a tool of this module
// (see integration/go.mod: the version and the pop replace live there).
const HydraModule = "github.com/ory/hydra/v2"

// hydraTags are the build tags of an in-memory SQLite Hydra.
const hydraTags = "sqlite,sqlite_omit_load_extension"

// BuildHydra builds the Hydra binary of this module's go.mod into a
// directory beside Go's build cache and returns its path. go build does
// the caching: with nothing changed it only checks the build IDs and leaves
// the binary alone (a few seconds); a cold build takes minutes.
func BuildHydra(ctx context.Context, moduleDir string) (string, error) {
	gocache, err := goEnv(ctx, moduleDir, "GOCACHE")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(gocache), "authloop-hydra")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hydra")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", hydraTags, "-o", bin, HydraModule)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build Hydra (go build -tags %s %s in %s): %w\n%s", hydraTags, HydraModule, moduleDir, err, out)
	}
	return bin, nil
}

func goEnv(ctx context.Context, dir, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", name)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" || v == "off" {
		return "", fmt.Errorf("go env %s is %q: Hydra's binary needs a build cache", name, v)
	}
	return v, nil
}

// HydraOptions configure a Hydra instance.
type HydraOptions struct {
	// Binary is the path from BuildHydra.
	Binary string
	// AccessTokenTTL is ttl.access_token; 0 means one hour.
	AccessTokenTTL time.Duration
}

// Hydra is a running Ory Hydra, in memory, with an auto-accepting login and
// consent app of ours.
type Hydra struct {
	Issuer    string // as its discovery document names it
	PublicURL string
	AdminURL  string

	proc     *process
	app      *httptest.Server
	dir      string
	http     *http.Client
	logins   atomic.Int64
	consents atomic.Int64
}

// StartHydra starts `hydra serve all --dev` on free loopback ports with
// DSN=memory, and waits until /health/ready answers.
func StartHydra(ctx context.Context, opts HydraOptions) (*Hydra, error) {
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a port taken between probe and bind
		h, err := startHydra(ctx, opts)
		if err == nil {
			return h, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startHydra(ctx context.Context, opts HydraOptions) (h *Hydra, err error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	h = &Hydra{
		PublicURL: "http://" + hostPort(ports[0]),
		AdminURL:  "http://" + hostPort(ports[1]),
		http:      &http.Client{Timeout: 10 * time.Second},
	}
	defer func() {
		if err != nil {
			h.Stop()
		}
	}()
	h.app = httptest.NewServer(http.HandlerFunc(h.serveApp))
	h.dir, err = os.MkdirTemp("", "authloop-hydra-")
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`# written by authloop's integration harness
serve:
  public:
    host: 127.0.0.1
    port: %d
  admin:
    host: 127.0.0.1
    port: %d
urls:
  self:
    issuer: %s
    public: %s
  login: %s/login
  consent: %s/consent
  error: %s/error
secrets:
  system:
    - authloop-integration-system-secret-0123456789abcdef
oauth2:
  pkce:
    enforced: true
oidc:
  dynamic_client_registration:
    enabled: true
webfinger:
  oidc_discovery:
    # Without it Hydra serves DCR but names no registration_endpoint in
    # its discovery document.
    client_registration_url: %s/oauth2/register
ttl:
  access_token: %s
  refresh_token: 720h
log:
  level: warn
  leak_sensitive_values: false
`, ports[0], ports[1], h.PublicURL, h.PublicURL, h.app.URL, h.app.URL, h.app.URL, h.PublicURL, opts.AccessTokenTTL)
	confPath := filepath.Join(h.dir, "hydra.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(opts.Binary, "serve", "all", "--dev", "--sqa-opt-out", "-c", confPath)
	cmd.Env = append(os.Environ(), "DSN=memory", "SQA_OPT_OUT=true")
	h.proc, err = startProcess("hydra", cmd)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = h.proc.waitFor(wctx, "/health/ready", func(ctx context.Context) error {
		for _, u := range []string{h.PublicURL, h.AdminURL} {
			if err := getOK(ctx, h.http, u+"/health/ready"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := h.getJSON(ctx, h.PublicURL+"/.well-known/openid-configuration", &doc); err != nil {
		return nil, err
	}
	h.Issuer = doc.Issuer
	return h, nil
}

// Stop stops Hydra and the login app, and removes the config directory.
func (h *Hydra) Stop() {
	if h == nil {
		return
	}
	if h.proc != nil {
		h.proc.stop(5 * time.Second)
	}
	if h.app != nil {
		h.app.Close()
	}
	if h.dir != "" {
		os.RemoveAll(h.dir)
	}
	h.http.CloseIdleConnections()
}

// Output returns what Hydra logged so far.
func (h *Hydra) Output() string { return h.proc.output() }

// Logins and Consents count the login and consent requests accepted.
func (h *Hydra) Logins() int64   { return h.logins.Load() }
func (h *Hydra) Consents() int64 { return h.consents.Load() }

// SubjectFor is the subject the login app signs a client's user in as: one
// per client, so that revoking one test's grants leaves the others alone.
func SubjectFor(clientID string) string { return "user-" + clientID }

// serveApp is the login and consent app: it accepts every request through
// the admin API and redirects the browser on, as a person who always says
// yes would.
func (h *Hydra) serveApp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var redirect string
	var err error
	switch r.URL.Path {
	case "/login":
		redirect, err = h.acceptLogin(ctx, r.URL.Query().Get("login_challenge"))
	case "/consent":
		redirect, err = h.acceptConsent(ctx, r.URL.Query().Get("consent_challenge"))
	case "/error":
		http.Error(w, "hydra error: "+r.URL.Query().Get("error")+": "+r.URL.Query().Get("error_description"), http.StatusBadRequest)
		return
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, redirect, http.StatusFound)
}

func (h *Hydra) acceptLogin(ctx context.Context, challenge string) (string, error) {
	if challenge == "" {
		return "", errors.New("no login_challenge")
	}
	var req struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
	}
	q := "login_challenge=" + url.QueryEscape(challenge)
	if err := h.getJSON(ctx, h.AdminURL+"/admin/oauth2/auth/requests/login?"+q, &req); err != nil {
		return "", err
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	body := map[string]any{"subject": SubjectFor(req.Client.ClientID), "remember": false}
	if err := h.adminJSON(ctx, http.MethodPut, "/admin/oauth2/auth/requests/login/accept?"+q, body, &out); err != nil {
		return "", err
	}
	h.logins.Add(1)
	return out.RedirectTo, nil
}

func (h *Hydra) acceptConsent(ctx context.Context, challenge string) (string, error) {
	if challenge == "" {
		return "", errors.New("no consent_challenge")
	}
	var req struct {
		RequestedScope    []string `json:"requested_scope"`
		RequestedAudience []string `json:"requested_access_token_audience"`
	}
	q := "consent_challenge=" + url.QueryEscape(challenge)
	if err := h.getJSON(ctx, h.AdminURL+"/admin/oauth2/auth/requests/consent?"+q, &req); err != nil {
		return "", err
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	body := map[string]any{
		"grant_scope":                 req.RequestedScope,
		"grant_access_token_audience": req.RequestedAudience,
		"remember":                    false,
	}
	if err := h.adminJSON(ctx, http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?"+q, body, &out); err != nil {
		return "", err
	}
	h.consents.Add(1)
	return out.RedirectTo, nil
}

// Client is an OAuth client registered at a peer for one test.
type Client struct {
	ID     string
	Secret string // "" for a public client
}

// NewPublicClient registers a fresh native public client through the admin
// API: no client authentication, redirect http://127.0.0.1/callback (any
// port), the code and refresh grants, scope "openid offline_access".
func (h *Hydra) NewPublicClient(ctx context.Context) (Client, error) {
	return h.newClient(ctx, "none")
}

// NewConfidentialClient registers a fresh client like NewPublicClient's,
// but authenticating with client_secret_basic and a secret Hydra makes.
func (h *Hydra) NewConfidentialClient(ctx context.Context) (Client, error) {
	return h.newClient(ctx, "client_secret_basic")
}

func (h *Hydra) newClient(ctx context.Context, authMethod string) (Client, error) {
	body := map[string]any{
		"client_name":                "authloop integration",
		"token_endpoint_auth_method": authMethod,
		"redirect_uris":              []string{"http://127.0.0.1/callback"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access",
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := h.adminJSON(ctx, http.MethodPost, "/admin/clients", body, &out); err != nil {
		return Client{}, err
	}
	if out.ClientID == "" {
		return Client{}, errors.New("hydra: created client has no client_id")
	}
	if authMethod != "none" && out.ClientSecret == "" {
		return Client{}, errors.New("hydra: created confidential client has no client_secret")
	}
	return Client{ID: out.ClientID, Secret: out.ClientSecret}, nil
}

// NewShortLivedClient is NewPublicClient with access tokens that live ttl,
// set through the client's token lifespans.
func (h *Hydra) NewShortLivedClient(ctx context.Context, ttl time.Duration) (Client, error) {
	c, err := h.NewPublicClient(ctx)
	if err != nil || ttl == 0 {
		return c, err
	}
	body := map[string]any{
		"authorization_code_grant_access_token_lifespan": ttl.String(),
		"refresh_token_grant_access_token_lifespan":      ttl.String(),
	}
	if err := h.adminJSON(ctx, http.MethodPut, "/admin/clients/"+url.PathEscape(c.ID)+"/lifespans", body, nil); err != nil {
		return Client{}, err
	}
	return c, nil
}

// RevokeConsent revokes every consent of the client's subject at Hydra,
// with the tokens issued under them: DELETE
// /admin/oauth2/auth/sessions/consent?subject=…&all=true.
func (h *Hydra) RevokeConsent(ctx context.Context, clientID string) error {
	q := url.Values{"subject": {SubjectFor(clientID)}, "all": {"true"}}
	return h.adminJSON(ctx, http.MethodDelete, "/admin/oauth2/auth/sessions/consent?"+q.Encode(), nil, nil)
}

// Introspection is the part of Hydra's introspection answer the tests read.
type Introspection struct {
	Active bool     `json:"active"`
	Aud    []string `json:"aud"`
	Scope  string   `json:"scope"`
	Sub    string   `json:"sub"`
}

// Introspect asks Hydra's admin API about a token (RFC 7662).
func (h *Hydra) Introspect(ctx context.Context, token string) (*Introspection, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.AdminURL+"/admin/oauth2/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out Introspection
	if err := doJSON(h.http, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (h *Hydra) adminJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.AdminURL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return doJSON(h.http, req, out)
}

func (h *Hydra) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	return doJSON(h.http, req, out)
}

func doJSON(c *http.Client, req *http.Request, out any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func getOK(ctx context.Context, c *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// HydraVersion is the version of Hydra that integration/go.mod requires.
const HydraVersion = "v2.3.0"

// GetClient returns a client's registration as Hydra's admin API shows it
// (GET /admin/clients/{id}), secrets left out by Hydra.
func (h *Hydra) GetClient(ctx context.Context, id string) (map[string]any, error) {
	var out map[string]any
	if err := h.getJSON(ctx, h.AdminURL+"/admin/clients/"+url.PathEscape(id), &out); err != nil {
		return nil, err
	}
	return out, nil
}
