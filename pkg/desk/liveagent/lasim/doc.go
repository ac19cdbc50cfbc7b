// Package lasim is an in-process simulator of Salesforce's legacy Chat (Live Agent) Chat REST
// API, the visitor side, plus a control API that plays the agent.
//
// A [Sim] is an http.Handler, so it runs under httptest.NewServer in tests or behind a real
// listener (cmd/liveagent-sim). It serves:
//
//   - /chat/rest/… — System/SessionId, System/Messages (long poll with ack, sequence, offset,
//     redelivery, hold then 204), System/ReconnectSession, DELETE System/SessionId/{key},
//     Chasitor/* (ChasitorInit, ChatMessage, ChasitorTyping, ChasitorNotTyping,
//     ChasitorSneakPeek, CustomEvent, ChatEnd, ChasitorResyncState,
//     ChasitorIdleTimeoutWarningEvent), System/MultiNoun and Visitor/Availability;
//   - /services/liveagent/file — the file upload servlet of agent-requested file transfers;
//   - /control/… — the agent control API (JSON; see api/liveagent-sim.yaml), including the
//     Server-Sent Events stream /control/events;
//   - the agent console page lives in pkg/demo (AgentConsole), mounted by cmd/liveagent-sim.
//
// It follows the team's liveagent-protocol.md §9 checklist, failure modes included: 400 without
// X-LIVEAGENT-API-VERSION, 403 "Session required but was invalid or not found" for a bad key or
// affinity and after the end or expiry of a session, 405, 409 on a second concurrent poll
// (which terminates the chat), 500 on ChatMessage before ChatEstablished, expiry when the
// visitor stops polling, injected faults (503 with the ReconnectSession flow, 409, 429, 500,
// 5xx), and de-duplication of POSTs by X-LIVEAGENT-SEQUENCE.
//
// Every agent action of the control API is also a Go method ([Sim.Accept], [Sim.AgentSend] …),
// and tests can await a condition without sleeping with [Sim.WaitFor] and [Sim.WaitChat].
// All timing is configurable in [Options] so tests run in milliseconds.
package lasim
