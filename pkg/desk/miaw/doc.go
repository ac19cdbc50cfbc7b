// Package miaw is a client for Salesforce Enhanced Chat, the Messaging for In-App and Web
// (MIAW) customer REST API of a Custom Client Embedded Service deployment, and the
// bridge.Desk adapter that drives the bridge's chats over it.
//
// The [Client] covers what a server-side LINE bridge needs: unauthenticated (guest) and
// authenticated access tokens (the latter minted from a customer identity JWT that the client
// signs with RS256 or ES256, subject = the LINE user id), continuation tokens, an in-memory
// token cache per user that honours each token's expiry, creating and closing conversations,
// ending messaging sessions, text messages with client-generated ids, typing indicators, the
// conversation entries (backfill) and the Server-Sent Event stream /eventrouter/v1/sse. Every
// call has a deadline ([Config.RequestTimeout]); a 401 mints a new token once and retries, a
// 429 waits as Retry-After says and retries, a 417 (no messaging session) can re-send the
// message with isNewMessagingSession.
//
// [Stream] keeps one event stream connected: reconnects with backoff (1 s × 1.5ⁿ up to 30 s),
// treats silence beyond [Config.SilenceTimeout] (90 s) as a dead connection, sends
// Last-Event-Id, and calls a hook after every (re)connection so that the caller can backfill
// what it missed from the entries. [SSEReader] is the underlying text/event-stream parser.
//
// [Desk] implements bridge.Desk, bridge.Typer and bridge.Detacher. It keeps one event stream
// per LINE user open between Receive calls, backfills from the entries after every
// (re)connection, de-duplicates by entry identifier, drops the end user's own echoed entries,
// and returns batches whose events carry the entry identifier as their stable id.
//
// The research notes behind the wire formats, and the questions only a real org can answer,
// are summarised in docs/enhanced-chat.md. Package miawsim is a simulator of the API with an
// agent control API, used by the tests.
package miaw
