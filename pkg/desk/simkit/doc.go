// Package simkit is the shared plumbing of the desk simulators (pkg/desk/liveagent/lasim and
// pkg/desk/miaw/miawsim): what they have in common that is not about the protocol they
// simulate.
//
//   - The JSON control API: [WriteJSON]; [API] maps errors to statuses with a caller-supplied
//     list of sentinels and decodes optional bodies and durations; [Resource] and [WithBody]
//     answer actions on an object (a chat, a conversation) with its snapshot;
//     [NewAgentHandlers] serves the agent actions both control APIs share.
//   - [Hub]: the Server-Sent Events fan-out of GET /control/events.
//   - [Lifecycle], [Changes] and [WaitFor]: closing a simulator, its scheduler goroutine, and
//     the change notification behind WaitFor-style waits.
//   - [FaultQueue]: the queue of injected faults and its control handlers.
//   - Option defaults ([OrPositive], [OrNow], [OrDiscard], [DefaultAgentName]) and random ids
//     ([RandomHex], [RandomUUID], [NewSFID]).
//
// Nothing here knows about chats or conversations: the simulators keep their own state, lock,
// error sentinels and wire formats, and pass them in.
package simkit
