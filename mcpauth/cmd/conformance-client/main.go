// Command conformance-client is the MCP client that the MCP conformance
// suite (@modelcontextprotocol/conformance) runs against its authorization
// scenarios: an authloop Session, given only the MCP server's URL, and the
// go-sdk's streamable HTTP transport with mcpauth.HTTPClient as its HTTP
// client, whose authloop.Transport authorizes every request: the Bearer
// token, or a DPoP-bound token with its proof (RFC 9449, the auth/dpop
// scenarios), and the server's challenges (401, 403 insufficient_scope,
// use_dpop_nonce). The go-sdk writes only Bearer tokens from an
// OAuthHandler, so the client uses none.
//
// Usage, as the suite calls it:
//
//	conformance-client <server-url>
//
// The suite sets MCP_CONFORMANCE_SCENARIO (the scenario's name),
// MCP_CONFORMANCE_PROTOCOL_VERSION (the revision whose wire the scenario runs
// at, from suite 0.2: 2025-11-25 and earlier with the initialize handshake,
// 2026-07-28 stateless) and, for some scenarios, MCP_CONFORMANCE_CONTEXT
// (JSON: the scenario's name; client_id and client_secret of a
// pre-registered client; or a program's identity, from which machineGrant
// picks the session's Config.Grant: client credentials with a secret or a
// private key, a workload's JWT bearer grant, enterprise-managed
// authorization). Without a grant, the session signs a person in: the
// scenarios' authorization endpoints approve at once and redirect to the
// redirect URI, so the "browser" is an HTTP client that follows redirects
// to the session's loopback receiver.
//
// The client connects at that protocol version (server/discover or
// initialize, as the go-sdk does for it), lists the tools, calls the first
// one with placeholder values for the arguments its input schema requires,
// and exits 0; on any failure it prints the error and exits 1. Debug logs
// of the session go to stderr, which the suite keeps with its results.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// clientMetadataURL is the Client ID Metadata Document URL the suite's
// auth/basic-cimd scenario expects as the client id.
const clientMetadataURL = "https://conformance-test.local/client-metadata.json"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance-client <server-url>")
		os.Exit(2)
	}
	serverURL := os.Args[len(os.Args)-1]
	// The suite gives each scenario 30 s.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	err := run(ctx, serverURL, os.Getenv("MCP_CONFORMANCE_SCENARIO"), os.Getenv("MCP_CONFORMANCE_PROTOCOL_VERSION"), os.Getenv("MCP_CONFORMANCE_CONTEXT"), os.Stdout, os.Stderr)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance-client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, serverURL, scenario, protocolVersion, rawContext string, stdout, stderr io.Writer) error {
	var sc scenarioContext
	if rawContext != "" {
		if err := json.Unmarshal([]byte(rawContext), &sc); err != nil {
			return fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

	cfg := &authloop.Config{
		Resource:   serverURL,
		OAuth2:     &oauth2.Config{ClientID: sc.ClientID, ClientSecret: sc.ClientSecret},
		AppName:    "authloop conformance client",
		ClientName: "authloop conformance client",
		Logger:     log,
	}
	mode, err := machineGrant(cfg, sc)
	if err != nil {
		return err
	}
	if mode == "" {
		mode = "sign-in"
		cfg.Interactive = true
		cfg.Browser = followRedirects
		cfg.Prompt = stderr
		// The suite's CIMD scenarios expect this client id, and never
		// fetch the document.
		cfg.ClientMetadataURL = clientMetadataURL
	}
	log.Info("conformance client", "scenario", scenario, "server", serverURL, "protocol_version", protocolVersion, "mode", mode, "pre-registered", sc.ClientID != "")

	sess, err := authloop.NewSession(cfg, nil)
	if err != nil {
		return err
	}
	defer sess.Close()

	client := mcp.NewClient(&mcp.Implementation{Name: "authloop-conformance-client", Version: "1.0.0"}, nil)
	httpClient := mcpauth.HTTPClient(sess, nil)
	defer httpClient.CloseIdleConnections()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             serverURL,
		HTTPClient:           httpClient,
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("listing tools: %w", err)
	}
	for _, t := range tools.Tools {
		fmt.Fprintln(stdout, "tool:", t.Name)
	}
	if len(tools.Tools) == 0 {
		return nil
	}
	name := tools.Tools[0].Name
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: placeholderArguments(tools.Tools[0].InputSchema)})
	if err != nil {
		return fmt.Errorf("calling tool %s: %w", name, err)
	}
	if res.IsError {
		return fmt.Errorf("tool %s answered with an error", name)
	}
	fmt.Fprintln(stdout, "called:", name)
	return nil
}

// followRedirects is the conformance client's browser: the scenarios'
// authorization endpoints redirect at once to the redirect URI, so a GET
// that follows redirects delivers the code to the session's loopback
// receiver.
func followRedirects(ctx context.Context, authURL string) error {
	c := &http.Client{Timeout: 20 * time.Second}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("following the authorization URL: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return errors.New("following the authorization URL ended in HTTP " + resp.Status)
	}
	return nil
}
