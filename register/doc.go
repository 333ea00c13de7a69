// Package register obtains the OAuth client a program signs in as, at one
// authorization server, in the order the MCP authorization specification
// (revision 2026-07-28) gives:
//
//  1. a pre-registered client, whose id (and secret, for a confidential
//     client) the program or its user already has: Options.ClientID;
//  2. a Client ID Metadata Document (CIMD): the client id is an https URL at
//     which the program publishes a JSON document describing itself, used when
//     the server advertises client_id_metadata_document_supported and
//     Options.MetadataDocumentURL is set. Nothing is sent to the server ahead
//     of the login; it fetches the document itself. See ClientIDMetadata,
//     MetadataDocument and CheckMetadataURL;
//  3. dynamic client registration (RFC 7591) at the server's
//     registration_endpoint, as a native application (application_type
//     "native", a public client with token_endpoint_auth_method "none",
//     grant_types authorization_code and refresh_token, and the loopback
//     redirect URI the login listens on; see below). See Dynamic, and
//     Update for the RFC 7592 update of a registration.
//
// Choose applies that order and reuses a registration kept from an earlier
// run. Every result is a *store.Client, the form in which authloop keeps a
// registration in a credential record.
//
// # Registrations are per issuer
//
// A client registration is valid at the authorization server that issued it
// and nowhere else: Choose reuses a kept registration only when its Issuer is
// exactly the issuer of the metadata it is given, so a client id (or secret)
// registered at one server is never presented to another. A registration
// whose client secret has expired (client_secret_expires_at) is not reused
// either; Choose registers anew.
//
// When a server later answers a token or revocation request with
// invalid_client (IsInvalidClient), the registration is usually gone:
// servers delete dynamically registered clients that went unused. It may
// also be that the credentials presented are no longer the registration's:
// an Update by another process sharing the registration issued a new client
// secret. So first read the kept registration again, where others may have
// changed it, and retry with it if it changed; otherwise call Choose again
// with no kept registration, once, to register anew (and sign in: the
// refresh tokens issued to a deleted client are of no use).
//
// # Loopback redirect URIs
//
// A native app receives the authorization response on a loopback port. RFC
// 8252 §7.3 asks the server to accept any port for a loopback redirect URI,
// and a Request that names no redirect URI registers DefaultRedirectURI,
// "http://127.0.0.1/callback", without one. But many servers (those built
// into common MCP server frameworks among them) compare redirect URIs
// exactly, and refuse http://127.0.0.1:53124/callback for that
// registration. So bind the listener first and register the URI it
// listens on, port included: authloop does, and a later login listens on
// the registered port again. When that port is taken, call Choose with the
// new URI and the kept registration: it updates the registration (Update,
// RFC 7592) where the server gave it a client configuration endpoint, and
// registers anew otherwise (also when its client configuration endpoint is
// on another origin than the server's: the registration access token is
// sent nowhere else). A refresh needs no redirect URI: call Choose
// with Options.DeferRegistration to take the kept registration as it is.
//
// # Secrets
//
// Client secrets, registration access tokens and initial access tokens never
// appear in an error, a String method or a log line of this package. A
// failed registration's error never quotes the response body, only the
// standard OAuth error fields (as an *oautherr.Error with Endpoint
// "registration"), which the server wrote for the user to read.
package register
