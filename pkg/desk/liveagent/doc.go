// Package liveagent is a client for Salesforce's legacy Chat (Live Agent) Chat REST API, the
// visitor ("chasitor") side: create a session, request a chat, long-poll for agent events, send
// messages, typing notices and files, end the chat, and recover from an affinity change.
//
// The client is stateless: the caller owns the [Session], the outgoing X-LIVEAGENT-SEQUENCE
// counter and the poll ack (the last [Messages.Sequence] it has durably handled). Every method
// takes a context and applies its own deadline ([Config.RequestTimeout], or the derived poll
// deadline for [Client.Messages]), so a hung server never blocks a caller forever.
//
// Errors carry the HTTP status as a [*StatusError], which matches the package sentinels with
// errors.Is ([ErrSessionInvalid], [ErrAffinityChanged], …); [Temporary] tells whether a retry of
// the same call may succeed.
//
// The client never logs. [Session] implements slog.LogValuer and masks the session key, which is
// the only credential of a chat.
//
// Protocol notes: the team's liveagent-protocol.md (resources, headers, status codes, the
// reconnect flow). Package lasim is a faithful simulator of the API, used by the tests and by
// cmd/liveagent-sim.
package liveagent
