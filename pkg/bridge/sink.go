package bridge

import "context"

// Sink is a consumer of chat events driven by the instance that owns the
// chat: the LINE push relay, the outbound event webhooks. Each sink has its
// own cursor per customer, so it sees every event in order, and a restart
// resumes where it stopped.
//
// Delivery is at-least-once: a delivery that failed (or whose instance died)
// is retried with the same events and the same Key, so a sink that passes Key
// on as an idempotency key (LINE's X-Line-Retry-Key) delivers exactly once.
type Sink interface {
	// Name identifies the sink's cursor; it must not change between releases.
	Name() string
	// Accepts reports whether the sink wants ev at all. It must be a pure
	// function of ev: it is evaluated again when a delivery is retried.
	Accepts(ev Event) bool
	// Batch returns how many of evs (accepted events of one batch, in
	// order, at least one) go into the next delivery. It must be a pure
	// function of evs: a retry recomputes it and must get the same answer.
	Batch(evs []Event) int
	// Deliver delivers d. An error wrapping ErrPermanent drops the delivery
	// (it is logged); any other error is retried with backoff.
	Deliver(ctx context.Context, d Delivery) error
}

// EventIdempotent is a Sink whose Deliver de-duplicates by Event.ID itself
// (or for which a repeat is harmless). Delivery.Key is then simply the
// first event's id.
type EventIdempotent interface {
	Sink
	IdempotentByEventID()
}

// Delivery is one call of Sink.Deliver.
type Delivery struct {
	Customer CustomerID
	Chat     Chat // the customer's chat record as of the delivery
	Events   []Event
	Key      string // stable across retries of this delivery
	// Transcript returns every event of the given chat still in the log.
	Transcript func(ctx context.Context, id ChatID) ([]Event, error)
}
