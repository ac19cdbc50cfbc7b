// Package events sends a chat's life as outbound webhooks: a catalogue of
// versioned events (chat.requested … chat.ended), four body formats
// (Standard Webhooks, LiveChat v2, Chatwoot, Chat Dealer), signing, and a
// durable, Redis-backed delivery queue shared by every bridge instance.
//
// The [Sink] is a bridge.Sink: it turns the core's chat events into catalogue
// events and enqueues one delivery per (event, endpoint) in Redis, without
// any HTTP. The [Dispatcher] owns the workers that send them: at least once,
// with the same webhook-id across retries, exponential backoff over hours,
// one delivery in flight per (endpoint, chat) so a chat's events arrive in
// order, and a lease so a dead instance's attempts are taken over.
//
// Every Redis key starts with the hash tag "{" + Config.KeyPrefix + "}:", so
// the whole queue lives in one Redis Cluster slot: the Lua scripts that move a
// delivery touch several keys at once.
//
// The wire formats are documented in docs/events.md at the repository root;
// the admin routes in openapi-admin.yaml beside this file.
package events
