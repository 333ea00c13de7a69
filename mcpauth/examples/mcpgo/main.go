// Command mcpgo connects to an OAuth-protected MCP server with
// github.com/mark3labs/mcp-go and authloop, and lists the server's tools.
//
//	go run ./examples/mcpgo https://mcp.example.com/mcp
//
// The first run opens the browser to sign in (authloop discovers the
// server's authorization server through RFC 9728 and registers a client
// when the server allows it); the tokens are kept in the OS keyring or in
// a file under the user's configuration directory, so later runs sign in
// no more. authloop owns the tokens: mcp-go's transport sends its requests
// through mcpauth's RoundTripper (mcpgo.StreamableHTTPOption), and mcp-go's
// own OAuth support stays off.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth/mcpgo"
	"github.com/authloop/authloop/store"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2"
)

func main() {
	clientID := flag.String("client-id", "", "a client registered in advance at the server's authorization server (default: register one)")
	clientSecret := flag.String("client-secret", "", "the secret of -client-id, for a confidential client")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: mcpgo [-client-id ID [-client-secret SECRET]] MCP_SERVER_URL")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, flag.Arg(0), *clientID, *clientSecret); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, serverURL, clientID, clientSecret string) error {
	st, where, err := store.Default("")
	if err != nil {
		return err
	}
	log.Printf("tokens kept in %s", where)

	sess, err := authloop.NewSession(&authloop.Config{
		Resource:    serverURL,
		OAuth2:      &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret},
		Store:       st,
		Interactive: true,
		AppName:     "authloop mcp-go example",
	}, nil)
	if err != nil {
		return err
	}
	defer sess.Close()

	c, err := client.NewStreamableHttpClient(serverURL, mcpgo.StreamableHTTPOption(sess))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("connecting to %s: %w", serverURL, err)
	}
	var init mcp.InitializeRequest
	// mcp-go v1.2.1's newest revision (2026-07-28) is not yet spoken by
	// many servers; 2025-11-25 is.
	init.Params.ProtocolVersion = "2025-11-25"
	init.Params.ClientInfo = mcp.Implementation{Name: "authloop-mcpgo-example", Version: "1.0.0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return fmt.Errorf("initializing the MCP session with %s: %w", serverURL, err)
	}
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("listing tools: %w", err)
	}
	for _, tool := range res.Tools {
		fmt.Printf("%s\t%s\n", tool.Name, tool.Description)
	}
	return nil
}
