package bridge

import (
	"context"
	"time"
)

// Store is the durable state of the bridge. The Redis implementation lives in
// pkg/store/redisstore; every per-customer key shares the customer's hash tag.
//
// Every method is safe for concurrent use by any number of instances.
type Store interface {
	ChatStore
	LogStore
	LeaseStore
	Notifier
}

// ChatStore holds each customer's current chat record.
type ChatStore interface {
	// Chat returns the customer's current (or last) chat, or ErrNoChat.
	Chat(ctx context.Context, c CustomerID) (Chat, error)
	// BeginChat stores ch (status Starting) as the customer's current chat,
	// unless an open chat exists: then it returns that chat and ErrChatOpen.
	// It moves the pull cursor to the end of the log, so a new chat starts
	// from clean state, and marks the customer active.
	BeginChat(ctx context.Context, ch Chat) (Chat, error)
	// Commit applies a change to the customer's current chat and appends its
	// events, atomically. See Commit for the rules.
	Commit(ctx context.Context, c CustomerID, cm Commit) (Chat, error)
	// NextSeq returns the chat's next request sequence (1, 2, 3 …).
	NextSeq(ctx context.Context, c CustomerID) (int64, error)
	// Enqueue appends a customer message to the log and to the outbox of
	// chat id, atomically, and notifies every instance (ChangedOutbox |
	// ChangedLog). ErrStale if the customer's current chat is not id;
	// ErrChatClosed if it is over.
	Enqueue(ctx context.Context, c CustomerID, id ChatID, ev Event) (Outgoing, error)
	// OutboxHead returns the oldest unsent customer message, if any.
	OutboxHead(ctx context.Context, c CustomerID) (Outgoing, bool, error)
	// OutboxDone removes the head of the outbox if it is still o, and
	// returns the new head, if any.
	OutboxDone(ctx context.Context, c CustomerID, o Outgoing) (next Outgoing, ok bool, err error)
	// Once reports whether key was not seen within ttl, and records it.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Remember appends a line to the customer's recent conversation with the
	// bot (kept at most max lines) and Recall returns it, oldest first.
	Remember(ctx context.Context, c CustomerID, line string, max int) error
	Recall(ctx context.Context, c CustomerID) ([]string, error)
}

// Commit is one atomic change of a chat.
type Commit struct {
	// Chat must match the stored chat id, or the commit fails with ErrStale.
	Chat ChatID
	// Owner, when set, fences the commit: it fails with ErrFenced unless
	// Owner holds the customer's lease.
	Owner string
	// Version, when non-zero, must equal the stored version (else ErrStale).
	Version int64
	// DeskSeq, when ≥ 0, must be above the last stored one; a batch that is
	// not is a redelivery and the commit is a no-op (no error).
	DeskSeq int64
	// Status, when set, becomes the chat's status, except that an ended chat
	// stays ended. DeskState, AgentName, EndReason likewise when set.
	Status    Status
	DeskState []byte
	AgentName string
	EndReason EndReason
	// FileRequest, when set, replaces the open file request; ClearFile
	// removes it.
	FileRequest *FileRef
	ClearFile   bool
	// Events are appended to the log in order. An event that ends the chat
	// is dropped if the chat had already ended, so a chat ends once.
	Events []Event
	// Notify, when set, is published to every instance with the change.
	Notify Change
}

// Outgoing is a customer message waiting in the outbox.
type Outgoing struct {
	ID   string `json:"id"` // the event id of the customer message
	Seq  int64  `json:"seq"`
	Text string `json:"text"`
}

// LogStore is the per-customer event log with one cursor per consumer.
type LogStore interface {
	// Read returns up to n events after cursor ("" = from the start).
	Read(ctx context.Context, c CustomerID, after string, n int) ([]Event, error)
	// Pending returns consumer's cursor and up to n events after it, in one
	// round trip.
	Pending(ctx context.Context, c CustomerID, consumer string, n int) (cursor string, evs []Event, err error)
	// Advance moves consumer's cursor from from to to; it reports false if
	// the cursor was not at from.
	Advance(ctx context.Context, c CustomerID, consumer, from, to string) (bool, error)
	// Transcript returns every event of chat id still in the log.
	Transcript(ctx context.Context, c CustomerID, id ChatID) ([]Event, error)
}

// LeaseStore elects the one instance that drives each active customer.
type LeaseStore interface {
	// Acquire takes the customer's lease for owner if it is free.
	Acquire(ctx context.Context, c CustomerID, owner string, ttl time.Duration) (bool, error)
	// Renew extends owner's leases and reports the customers whose lease
	// owner no longer holds.
	Renew(ctx context.Context, owner string, cs []CustomerID, ttl time.Duration) (lost []CustomerID, err error)
	// Release gives the lease up (if owner holds it) and, if active, makes
	// the customer immediately adoptable by another instance.
	Release(ctx context.Context, c CustomerID, owner string, active bool) error
	// Deactivate removes the customer from the active set: nothing is left
	// to drive.
	Deactivate(ctx context.Context, c CustomerID) error
	// Orphans lists active customers whose lease has lapsed.
	Orphans(ctx context.Context, limit int) ([]CustomerID, error)
	// ActiveCount is the number of active customers.
	ActiveCount(ctx context.Context) (int64, error)
	// Active lists up to limit active customers.
	Active(ctx context.Context, limit int) ([]CustomerID, error)
}

// Notifier tells every instance that a customer's state changed. Changes
// are published by the store's own writes (Commit.Notify, Enqueue).
type Notifier interface {
	// Subscribe calls fn for every change published by other instances
	// until ctx ends. It returns once the subscription is live. fn must not
	// block.
	Subscribe(ctx context.Context, fn func(CustomerID, Change)) (wait func() error, err error)
}

// Change says what a notification is about, so that listeners do only the
// work it calls for.
type Change uint8

// Changes.
const (
	ChangedLog    Change = 1 << iota // events were appended to the log
	ChangedOutbox                    // a customer message was queued
	ChangedChat                      // the chat record changed (ended, replaced, started)
	ChangedAll    = ChangedLog | ChangedOutbox | ChangedChat
)
