package main

import (
	"encoding/json"

	"github.com/authloop/authloop/internal/strictjson"
)

// decodeProfile decodes the bytes of a profile file as json.Unmarshal
// does, result and error; a file in the form save writes is read by
// scanProfile, without encoding/json.
func decodeProfile(b []byte) (Profile, error) {
	if p, ok := scanProfile(b); ok {
		return p, nil
	}
	var p Profile
	err := json.Unmarshal(b, &p)
	return p, err
}

// scanProfile is the fast path of decodeProfile: it reads a profile in the
// form save writes, without encoding/json, whose first use in a process
// (type analysis, reflection, cold code) costs several times what the
// reading does, at every start of `authloop token` (issue 7). It reports
// false on anything else (an unknown or duplicate member, a null, any
// input strictjson does not read exactly as encoding/json does), for
// json.Unmarshal to decode; what it accepts, it reads to the same Profile
// as json.Unmarshal, which FuzzProfileFastPath checks.
func scanProfile(b []byte) (Profile, bool) {
	var p Profile
	r := strictjson.NewReader(b)
	var seen uint64
	if r.BeginObject() {
		for r.Member() {
			switch string(r.Key()) {
			case "version":
				if r.Once(&seen, 0) {
					p.Version = r.ReadInt()
				}
			case "name":
				if r.Once(&seen, 1) {
					p.Name = r.ReadString()
				}
			case "issuer":
				if r.Once(&seen, 2) {
					p.Issuer = r.ReadString()
				}
			case "resource":
				if r.Once(&seen, 3) {
					p.Resource = r.ReadString()
				}
			case "client_id":
				if r.Once(&seen, 4) {
					p.ClientID = r.ReadString()
				}
			case "client_secret_file":
				if r.Once(&seen, 5) {
					p.ClientSecretFile = r.ReadString()
				}
			case "client_secret_env":
				if r.Once(&seen, 6) {
					p.ClientSecretEnv = r.ReadString()
				}
			case "scopes":
				if r.Once(&seen, 7) {
					p.Scopes = r.ReadStrings()
				}
			case "port":
				if r.Once(&seen, 8) {
					p.Port = r.ReadInt()
				}
			case "login_mode":
				if r.Once(&seen, 9) {
					p.LoginMode = r.ReadString()
				}
			case "no_browser":
				if r.Once(&seen, 10) {
					p.NoBrowser = r.ReadBool()
				}
			case "dpop":
				if r.Once(&seen, 18) {
					p.DPoP = r.ReadString()
				}
			case "store":
				if r.Once(&seen, 11) {
					p.Store = r.ReadString()
				}
			case "redis_password_file":
				if r.Once(&seen, 14) {
					p.RedisPasswordFile = r.ReadString()
				}
			case "redis_password_env":
				if r.Once(&seen, 17) {
					p.RedisPasswordEnv = r.ReadBool()
				}
			case "redis_secret_key_file":
				if r.Once(&seen, 15) {
					p.RedisSecretKeyFile = r.ReadString()
				}
			case "redis_sealed":
				if r.Once(&seen, 16) {
					p.RedisSealed = r.ReadBool()
				}
			case "git_hosts":
				if r.Once(&seen, 12) {
					p.GitHosts = r.ReadStrings()
				}
			case "git_username":
				if r.Once(&seen, 13) {
					p.GitUsername = r.ReadString()
				}
			case "grant":
				if r.Once(&seen, 19) {
					p.Grant = r.ReadString()
				}
			case "private_key_file":
				if r.Once(&seen, 20) {
					p.PrivateKeyFile = r.ReadString()
				}
			case "key_id":
				if r.Once(&seen, 21) {
					p.KeyID = r.ReadString()
				}
			case "assertion_audience":
				if r.Once(&seen, 22) {
					p.AssertionAudience = r.ReadString()
				}
			case "jwt_bearer_token_file":
				if r.Once(&seen, 23) {
					p.JWTBearerTokenFile = r.ReadString()
				}
			case "jwt_bearer_token_env":
				if r.Once(&seen, 24) {
					p.JWTBearerTokenEnv = r.ReadString()
				}
			case "id_token_from":
				if r.Once(&seen, 25) {
					p.IDTokenFrom = r.ReadString()
				}
			case "idp_client_id":
				if r.Once(&seen, 26) {
					p.IdPClientID = r.ReadString()
				}
			case "idp_issuer":
				if r.Once(&seen, 27) {
					p.IdPIssuer = r.ReadString()
				}
			case "idp_token_url":
				if r.Once(&seen, 28) {
					p.IdPTokenURL = r.ReadString()
				}
			case "idp_client_secret_file":
				if r.Once(&seen, 29) {
					p.IdPClientSecretFile = r.ReadString()
				}
			case "idp_client_secret_env":
				if r.Once(&seen, 30) {
					p.IdPClientSecretEnv = r.ReadString()
				}
			default:
				r.Reject()
			}
		}
	}
	if !r.Done() {
		return Profile{}, false
	}
	return p, true
}
