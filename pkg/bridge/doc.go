// Package bridge is the core of the LINE ⇄ Salesforce agent bridge: the chat
// lifecycle, the per-chat event log, the relay that keeps every chat polled by
// exactly one instance, and the consumers (sinks) that carry a chat's events to
// the customer side and to outbound webhooks.
//
// The package imports no SDK and no wire type. The agent side is a [Desk]
// (Live Agent, Enhanced Chat), the state is a [Store] (Redis), and the
// customer side is a set of [Sink]s (LINE push, event webhooks). All three are
// interfaces defined here, where they are consumed.
//
// The package carries no API stability promise; it lives under pkg/ because
// the repository layout is fixed.
package bridge
