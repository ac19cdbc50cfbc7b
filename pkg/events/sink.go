package events

import (
	"context"
	"fmt"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Sink is the bridge.Sink of the outbound webhooks: Deliver only enqueues
// (in Redis, atomically and idempotently); the Dispatcher sends.
type Sink struct {
	d *Dispatcher
}

var _ bridge.EventIdempotent = (*Sink)(nil)

// Sink returns the sink that feeds d's queue.
func (d *Dispatcher) Sink() *Sink { return &Sink{d: d} }

// Name is the sink's cursor name.
func (s *Sink) Name() string { return "events" }

// IdempotentByEventID implements bridge.EventIdempotent: deliveries are
// enqueued once per (event id, endpoint), so retries need no saved plan.
func (s *Sink) IdempotentByEventID() {}

// Accepts reports whether some enabled endpoint takes an event that ev
// produces. It depends only on ev and the configuration.
func (s *Sink) Accepts(ev bridge.Event) bool {
	for _, typ := range typesFor(ev) {
		for _, ep := range s.d.order {
			if ep.Enabled && ep.subscribed(typ) && supports(ep.Format, typ) {
				return true
			}
		}
	}
	return false
}

// Batch takes every event offered: enqueueing is one Redis round trip.
func (s *Sink) Batch(evs []bridge.Event) int { return len(evs) }

// Deliver enqueues one delivery per (catalogue event, subscribed enabled
// endpoint). A redelivered batch yields the same event and delivery ids, so
// it enqueues nothing new. It makes no HTTP request; a Redis error is
// returned for the core to retry.
func (s *Sink) Deliver(ctx context.Context, d bridge.Delivery) error {
	cache := map[bridge.ChatID][]bridge.Event{}
	transcript := func(id bridge.ChatID) ([]bridge.Event, error) {
		if evs, ok := cache[id]; ok {
			return evs, nil
		}
		if d.Transcript == nil {
			return d.Events, nil
		}
		evs, err := d.Transcript(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("events: transcript: %w", err)
		}
		cache[id] = evs
		return evs, nil
	}
	recs, err := buildRecords(d, transcript)
	if err != nil {
		return err
	}
	var keep []*record
	var ds []dlvSpec
	for _, rec := range recs {
		n := len(ds)
		for _, ep := range s.d.order {
			if ep.Enabled && ep.subscribed(rec.Type) && supports(ep.Format, rec.Type) && !ep.excluded(string(d.Customer)) {
				ds = append(ds, specFor(rec, ep.Name))
			}
		}
		if len(ds) > n {
			keep = append(keep, rec)
		}
	}
	n, err := s.d.q.enqueue(ctx, s.d.now(), keep, ds)
	if err != nil {
		return err
	}
	s.d.notify(n)
	return nil
}
