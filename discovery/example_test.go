package discovery_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oauthtest"
)

func ExampleParseWWWAuthenticate() {
	cs, err := discovery.ParseWWWAuthenticate(
		`Basic realm="api", Bearer error="insufficient_scope", scope="files:read files:write"`,
		`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`,
	)
	if err != nil {
		fmt.Println(err)
	}
	for _, c := range cs {
		fmt.Printf("%s error=%q scope=%q resource_metadata=%q\n", c.Scheme, c.ErrorCode(), c.Scope(), c.ResourceMetadata())
	}
	// Output:
	// Basic error="" scope=[] resource_metadata=""
	// Bearer error="insufficient_scope" scope=["files:read" "files:write"] resource_metadata=""
	// Bearer error="" scope=[] resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
}

func ExampleCanonicalResource() {
	for _, raw := range []string{"HTTPS://MCP.Example.com:443/mcp#top", "https://mcp.example.com/"} {
		c, _ := discovery.CanonicalResource(raw)
		fmt.Println(c)
	}
	// Output:
	// https://mcp.example.com/mcp
	// https://mcp.example.com
}

// The MCP discovery walk: a 401 from the server, the resource metadata its
// challenge points to, then the metadata of the authorization server that
// the resource names.
func Example() {
	as := oauthtest.NewServer(oauthtest.Config{IssuerPath: "/tenant/a"})
	defer as.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctx := context.Background()
	serverURL := as.ResourceEndpoint() // stands in for an MCP server

	resp, err := client.Get(serverURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	challenge, _ := discovery.BearerChallenge(resp.Header)

	prm, err := discovery.ProtectedResource(ctx, client, serverURL, challenge.ResourceMetadata())
	if err != nil {
		fmt.Println(err)
		return
	}
	meta, err := discovery.AuthServer(ctx, client, prm.AuthorizationServers[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status:", resp.StatusCode)
	fmt.Println("resource is the server:", prm.Resource == serverURL)
	fmt.Println("issuer:", meta.Issuer == as.Issuer())
	fmt.Println("S256:", meta.SupportsS256())
	// Output:
	// status: 401
	// resource is the server: true
	// issuer: true
	// S256: true
}
