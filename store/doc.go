// Package store keeps authloop's credential records — tokens, the client
// registration and the discovered server metadata of one sign-in — so that
// they survive restarts and are shared safely by many processes.
//
// A Store holds one Record per Key (issuer, client id, resource, account).
// Every Save is atomic (a reader sees the old or the new record, never a
// mix) and gets a new generation number, and every Store has named locks
// per key that exclude other goroutines and other processes, so that only
// one process refreshes a token ("refresh") or opens a browser ("login")
// at a time.
//
// Three stores are provided:
//
//   - Memory keeps records in the process, for tests and short-lived
//     programs.
//   - File keeps one JSON file per record in a private directory (0700,
//     files 0600), written atomically and durably, with file locks
//     (fcntl record locks, all of a record's in one file, removed with
//     the record) that the OS releases when a process dies. Builds of
//     authloop from before 2026-12-01 used one flock(2) file per lock;
//     the two kinds do not exclude each other, so every program sharing a
//     store directory must be built with the same layout.
//   - Keyring keeps the secrets of each record (access, refresh and ID
//     tokens, client secret, registration access token) in the OS keyring
//     and the rest, and the locks, in a File store's directory.
//
// The module store/redisstore adds a store kept in Redis, shared by
// processes on many machines. Its locks are leases, which can pass to
// another holder while a stalled holder still runs; such stores implement
// LeaseLocker, whose held context fences the stalled holder's saves.
//
// Default picks the keyring when one answers and the file store otherwise,
// and says which it picked. The package store/storetest checks that a
// Store implementation keeps the promises of the interface.
//
// No error, log line or String method of this package ever contains a
// token or a secret.
package store
