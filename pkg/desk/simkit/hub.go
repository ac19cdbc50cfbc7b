package simkit

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Hub defaults.
const (
	DefaultBuffer = 256
	DefaultPing   = 15 * time.Second
	DefaultRetry  = 2 * time.Second
)

// Event is one Server-Sent Event: its type (the "event:" field; "" for the default type) and
// its data.
type Event struct {
	Name string
	Data []byte
}

// Hub fans events out to Server-Sent Event streams, like GET /control/events. The zero value is
// ready to use; set the fields before the first call.
//
// A stream is a [Subscription] served with [Hub.Serve]. A subscriber that falls [Hub.Buffer]
// events behind is dropped (its stream ends; the client reconnects and gets a fresh initial
// event), so that a stalled client never blocks [Hub.Broadcast].
//
// To start a stream with a snapshot of some state that neither misses nor repeats a change,
// take the snapshot and call [Hub.Subscribe] under the lock that the broadcasts of changes to
// that state are made under.
type Hub struct {
	// Buffer is the number of events a subscriber may be behind. Default [DefaultBuffer].
	Buffer int
	// Ping is the interval of the comment lines (": ping") that keep idle streams open through
	// proxies. Default [DefaultPing].
	Ping time.Duration
	// Retry is the reconnection delay sent to clients at the start of each stream (millisecond
	// precision). Default [DefaultRetry].
	Retry time.Duration

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	done   chan struct{}
	closed bool
}

// Subscription is one subscriber of a [Hub].
type Subscription struct {
	hub *Hub
	ch  chan Event
}

// init makes the lazily created fields. Called with h.mu held.
func (h *Hub) init() {
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
		h.done = make(chan struct{})
	}
}

// Subscribe adds a subscriber. Pass it to [Hub.Serve], which cancels it, or cancel it.
func (h *Hub) Subscribe() *Subscription {
	sub := &Subscription{hub: h, ch: make(chan Event, OrPositive(h.Buffer, DefaultBuffer))}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	h.subs[sub] = struct{}{}
	return sub
}

// Events returns the subscriber's events. The channel is closed when the hub drops the
// subscriber for being too slow.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Cancel removes the subscriber. It is idempotent.
func (s *Subscription) Cancel() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	delete(s.hub.subs, s)
}

// Subscribers returns the number of subscribers.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Broadcast queues ev for every subscriber, without blocking: a subscriber whose queue is full
// is dropped.
func (h *Hub) Broadcast(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.ch <- ev:
		default: // too slow: drop the subscriber, its stream ends
			delete(h.subs, sub)
			close(sub.ch)
		}
	}
}

// BroadcastJSON broadcasts an event named name whose data is the JSON encoding of v(). v is
// only called when there are subscribers (snapshots cost to build); a value that does not
// encode is not sent.
func (h *Hub) BroadcastJSON(name string, v func() any) {
	if h.Subscribers() == 0 {
		return
	}
	data, err := json.Marshal(v())
	if err != nil {
		return
	}
	h.Broadcast(Event{Name: name, Data: data})
}

// Close ends every stream being served, and streams served later as soon as they have sent
// their initial events. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

func (h *Hub) doneChan() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	return h.done
}

// Serve serves sub's events as a Server-Sent Events stream (200, text/event-stream), starting
// with the reconnection delay and the initial events, until the request's context ends, the
// hub is closed, the subscriber is dropped or a write fails; then it cancels sub. It lifts the
// server's write deadline for this response, as a stream outlives any WriteTimeout.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, sub *Subscription, initial ...Event) {
	defer sub.Cancel()
	done := h.doneChan()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var b strings.Builder
	b.WriteString("retry: " + strconv.FormatInt(OrPositive(h.Retry, DefaultRetry).Milliseconds(), 10) + "\n")
	if len(initial) == 0 {
		b.WriteString("\n")
	}
	for _, ev := range initial {
		formatEvent(&b, ev)
	}
	if _, err := io.WriteString(w, b.String()); err != nil || rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(OrPositive(h.Ping, DefaultPing))
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-sub.ch:
			if !ok {
				return
			}
			b.Reset()
			formatEvent(&b, ev)
			if _, err := io.WriteString(w, b.String()); err != nil {
				return
			}
		case <-ping.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-done:
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// formatEvent writes ev in the wire format: an "event:" line (unless the name is empty), a
// "data:" line per line of the data, and a blank line.
func formatEvent(b *strings.Builder, ev Event) {
	if ev.Name != "" {
		b.WriteString("event: " + ev.Name + "\n")
	}
	for line := range strings.SplitSeq(string(ev.Data), "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
}
