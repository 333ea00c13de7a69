// Command gosdk connects to an OAuth-protected MCP server with the official
// Go SDK (github.com/modelcontextprotocol/go-sdk) and authloop, and lists
// the server's tools.
//
//	go run ./examples/gosdk https://mcp.example.com/mcp
//
// The first run opens the browser to sign in (authloop discovers the
// server's authorization server through RFC 9728 and registers a client
// when the server allows it); the tokens are kept in the OS keyring or in
// a file under the user's configuration directory, so later runs, for
// months, sign in no more: the session refreshes the access token before
// it expires. Give -client-id (and -client-secret) for a server that wants
// a client registered in advance.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/authloop/authloop"
	"github.com/authloop/authloop/mcpauth"
	"github.com/authloop/authloop/store"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

func main() {
	clientID := flag.String("client-id", "", "a client registered in advance at the server's authorization server (default: register one)")
	clientSecret := flag.String("client-secret", "", "the secret of -client-id, for a confidential client")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: gosdk [-client-id ID [-client-secret SECRET]] MCP_SERVER_URL")
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
		AppName:     "authloop go-sdk example",
	}, nil)
	if err != nil {
		return err
	}
	defer sess.Close()

	client := mcp.NewClient(&mcp.Implementation{Name: "authloop-gosdk-example", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     serverURL,
		OAuthHandler: mcpauth.NewGoSDKHandler(sess),
		// The go-sdk writes only Bearer tokens from the OAuthHandler: a
		// server that offers DPoP gets DPoP-bound tokens, which this client
		// sends with their proofs.
		HTTPClient: mcpauth.HTTPClient(sess, nil),
	}, nil)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", serverURL, err)
	}
	defer cs.Close()

	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("listing tools: %w", err)
		}
		fmt.Printf("%s\t%s\n", tool.Name, tool.Description)
	}
	return nil
}
