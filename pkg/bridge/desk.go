package bridge

import (
	"context"
	"errors"
	"io"
)

// Desk is the agent side of the bridge: Live Agent, Enhanced Chat …
//
// A desk session's state is opaque to the core: the desk returns it from
// Start and Receive, and the core stores it in the chat record and hands it
// back on every call. A desk keeps no per-chat state of its own that another
// instance would need, so any instance can serve any chat.
type Desk interface {
	// Kind names the desk, e.g. "liveagent". It is stored with each chat.
	Kind() string
	// Start creates a desk session and requests an agent for v. It must not
	// wait for an agent to accept. seq is the chat's first request sequence.
	Start(ctx context.Context, v Visitor, seq int64) (state []byte, err error)
	// Receive waits for the next batch of events (one long poll or one
	// stream read) and returns it. A batch with no events and a nil State
	// means nothing happened. Receive is called by exactly one instance at a
	// time for a given chat (the lease holder), never concurrently.
	Receive(ctx context.Context, state []byte) (Batch, error)
	// Send relays a customer's text to the agent. seq is unique per chat and
	// increases with each request; a retry of the same message reuses it.
	Send(ctx context.Context, state []byte, seq int64, text string) error
	// End ends the chat at the desk. Ending an already ended chat is not an
	// error.
	End(ctx context.Context, state []byte, seq int64) error
}

// Batch is what one Receive produced.
type Batch struct {
	Events []Event
	// State is the desk state to store together with the events, or nil if
	// it did not change. Storing both atomically is what makes the next
	// Receive acknowledge the batch.
	State []byte
	// Seq orders batches: a batch whose Seq is not above the last stored one
	// is a redelivery and is dropped. -1 when the desk has no such number.
	Seq int64
}

// Typer is a Desk that can show the customer's typing state to the agent.
type Typer interface {
	Typing(ctx context.Context, state []byte, seq int64, typing bool) error
}

// Detacher is a Desk that holds a connection per chat between Receive
// calls (a server-sent event stream). The core calls Detach when this
// instance stops driving the chat (it ended, or another instance took
// over), so the desk can close it.
type Detacher interface {
	Detach(state []byte)
}

// FileUploader is a Desk that accepts a file the agent asked for.
type FileUploader interface {
	Upload(ctx context.Context, state []byte, ref FileRef, name, contentType string, r io.Reader) error
}

// Errors a Desk returns so the core can tell what to do. Desks wrap them.
var (
	// ErrSessionGone means the desk no longer knows the session (expired,
	// ended elsewhere): the chat is over.
	ErrSessionGone = errors.New("bridge: desk session gone")
	// ErrChatTerminated means the desk killed the chat (for example a
	// duplicate long poll): the chat is over.
	ErrChatTerminated = errors.New("bridge: chat terminated by the desk")
	// ErrNotEstablished means the desk refused a message because no agent
	// has accepted yet; the message is held and sent later.
	ErrNotEstablished = errors.New("bridge: chat not established yet")
	// ErrPermanent marks an error that retrying cannot fix.
	ErrPermanent = errors.New("bridge: permanent failure")
)

// Errors of the core.
var (
	// ErrNoChat means the customer has no chat at all.
	ErrNoChat = errors.New("bridge: no chat for this customer")
	// ErrChatClosed means the customer's last chat is over.
	ErrChatClosed = errors.New("bridge: chat is not open")
	// ErrChatOpen means the customer already has an open chat.
	ErrChatOpen = errors.New("bridge: chat already open")
	// ErrStartFailed means the desk session could not be created.
	ErrStartFailed = errors.New("bridge: chat could not be started")
	// ErrStale means the chat changed since it was read.
	ErrStale = errors.New("bridge: chat changed concurrently")
	// ErrFenced means this instance no longer holds the chat's lease.
	ErrFenced = errors.New("bridge: lease lost")
	// ErrNoFileRequested means a file was offered but the agent asked for
	// none (or the desk cannot take files).
	ErrNoFileRequested = errors.New("bridge: no file requested")
)
