// Package urlrule holds the rules authloop applies wherever a URL decides
// where a credential may go or what a message may show: which hosts are
// this machine, which URLs a token or a secret may travel to, when two
// URLs share an origin, when two issuer identifiers name one server, how a
// URL is shown in an error, and how a secret is named without revealing
// it. Each rule exists here once; the packages of this module call it
// rather than keep a copy.
//
// oauthtest keeps its own, narrower copies on purpose: it stands for a
// foreign authorization server, imports nothing of ours but package dpop
// (its proof checks, as a real server's DPoP library), and checks what a
// real server would check, not what authloop allows.
package urlrule
