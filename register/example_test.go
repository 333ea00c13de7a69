package register_test

import (
	"context"
	"fmt"

	"github.com/authloop/authloop/discovery"
	"github.com/authloop/authloop/oauthtest"
	"github.com/authloop/authloop/register"
)

// ExampleChoose obtains a client at a server that offers dynamic
// registration, then, as after a restart, reuses the registration kept from
// the first run.
func ExampleChoose() {
	srv := oauthtest.NewServer(oauthtest.Config{})
	defer srv.Close()
	ctx := context.Background()
	md, err := discovery.AuthServer(ctx, nil, srv.Issuer())
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := register.Options{Registration: register.Request{ClientName: "mytool"}}

	c, isNew, err := register.Choose(ctx, nil, md, opts, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered:", isNew, "auth:", register.AuthMethod(c))

	// The caller saves c with its credential record, and passes it back.
	c2, isNew, err := register.Choose(ctx, nil, md, opts, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered:", isNew, "same client:", c2.ClientID == c.ClientID)
	// Output:
	// registered: true auth: none
	// registered: false same client: true
}

// ExampleMetadataDocument renders the Client ID Metadata Document a program
// publishes at its client id URL.
func ExampleMetadataDocument() {
	doc, err := register.MetadataDocument("https://mytool.example.com/oauth/client.json", register.Request{
		ClientName: "mytool",
		ClientURI:  "https://mytool.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(doc))
	// Output:
	// {
	//   "application_type": "native",
	//   "client_id": "https://mytool.example.com/oauth/client.json",
	//   "client_name": "mytool",
	//   "client_uri": "https://mytool.example.com",
	//   "grant_types": [
	//     "authorization_code",
	//     "refresh_token"
	//   ],
	//   "redirect_uris": [
	//     "http://127.0.0.1/callback"
	//   ],
	//   "response_types": [
	//     "code"
	//   ],
	//   "token_endpoint_auth_method": "none"
	// }
}
