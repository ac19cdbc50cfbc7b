// Package miawsim is an in-process simulator of Salesforce Enhanced Chat, the Messaging for
// In-App and Web (MIAW) customer REST API of a Custom Client deployment, plus a control API that
// plays the agent (and Omni-Channel).
//
// A [Sim] is an http.Handler, so it runs under httptest.NewServer in tests or behind a real
// listener. It serves:
//
//   - /iamessage/api/v2/authorization/… — unauthenticated, authenticated (User Verification:
//     the customer identity JWT is verified with [Options.VerificationKeys]; a JWT that fails
//     gets an anonymous token with status 200, as Salesforce does) and continuation access
//     tokens. Access tokens are JWTs with a real exp; [Sim.ExpireTokens] invalidates them all.
//   - /iamessage/api/v2/conversation… — create (lowercase UUID v4 ids, routing attributes),
//     message (de-duplicated by message id; 417 without a messaging session unless
//     isNewMessagingSession), entry (typing), entries (limit, direction, timestamps, type
//     filter), close, end session.
//   - /eventrouter/v1/sse — the event stream per end user (X-Org-Id and a bearer token
//     required), with heartbeats ("event: ping"), no replay of missed events, and the stream
//     closed when its token expires.
//   - /control/… — the agent control API (JSON; see api/miaw-sim.yaml), including the
//     Server-Sent Events stream /control/events of changes.
//
// Failure modes: injected statuses ([Fault]: 401, 417, 429 with Retry-After, 5xx …) per
// resource, dropped event streams ([Sim.DropStreams]), duplicate events replayed after the next
// reconnection ([Sim.ReplayOnReconnect]), expired tokens, and events of unknown types
// ([Sim.SendRawEvent]).
//
// Every control action is also a Go method ([Sim.Accept], [Sim.AgentSend] …), and tests await
// conditions without sleeping with [Sim.WaitFor], [Sim.WaitConversation] and [Sim.WaitStats].
// Timing (heartbeat interval, token lifetime) is configurable in [Options].
//
// Where the real API is undocumented (status codes for a closed conversation, the queue
// position event, entry ordering) the simulator makes a choice and says so in the control API
// document; see docs/enhanced-chat.md for the open questions.
package miawsim
