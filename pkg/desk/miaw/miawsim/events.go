package miawsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Event types of the /control/events stream.
const (
	EventSnapshot       = "snapshot"             // first event: data is {"type":"snapshot","conversations":[…]}
	EventCreated        = "conversation.created" // the end user created a conversation
	EventUpdated        = "conversation.updated" // any other change (agent joined, message, session ended …)
	EventClosed         = "conversation.closed"  // the end user closed it
	EventEndUserMessage = "enduser.message"      // the end user sent a text (Event.Text)
	EventStats          = "stats"                // simulator-wide counters changed (data: {"type":"stats","stats":{…}})
)

// Event is the data of one /control/events event (the SSE "event:" field is Type).
type Event struct {
	Type           string           `json:"type"`
	ConversationID string           `json:"conversationId"`
	Text           string           `json:"text,omitempty"`
	Conversation   ConversationView `json:"conversation"`
	Time           time.Time        `json:"time"`
}

type ctlEvent struct {
	name string
	data []byte
}

// changedLocked wakes the waiters. Called with s.mu held.
func (s *Sim) changedLocked() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// notify records a change of c for waiters and /control/events. Called with s.mu held.
func (s *Sim) notify(kind string, c *conversation, text string) {
	s.changedLocked()
	if len(s.subs) == 0 {
		return
	}
	data, err := json.Marshal(Event{Type: kind, ConversationID: c.id, Text: text, Conversation: s.view(c), Time: s.opts.Now()})
	if err == nil {
		s.broadcast(ctlEvent{name: kind, data: data})
	}
}

// notifyStats records a change of the counters. Called with s.mu held.
func (s *Sim) notifyStats() {
	s.changedLocked()
	if len(s.subs) == 0 {
		return
	}
	data, err := json.Marshal(map[string]any{"type": EventStats, "stats": s.stats})
	if err == nil {
		s.broadcast(ctlEvent{name: EventStats, data: data})
	}
}

func (s *Sim) broadcast(ev ctlEvent) {
	for ch := range s.subs {
		select {
		case ch <- ev:
		default: // too slow: drop the subscriber
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// WaitFor blocks until some conversation satisfies cond and returns its snapshot. cond runs
// without the simulator's lock on every change. It returns ctx's error when ctx ends and
// ErrClosed when the simulator is closed.
func (s *Sim) WaitFor(ctx context.Context, cond func(ConversationView) bool) (ConversationView, error) {
	for {
		s.mu.Lock()
		views := make([]ConversationView, 0, len(s.order))
		for _, id := range s.order {
			views = append(views, s.view(s.convs[id]))
		}
		ch := s.changed
		s.mu.Unlock()
		for _, v := range views {
			if cond(v) {
				return v, nil
			}
		}
		if err := s.wait(ctx, ch); err != nil {
			return ConversationView{}, err
		}
	}
}

// WaitConversation blocks until conversation id satisfies cond.
func (s *Sim) WaitConversation(ctx context.Context, id string, cond func(ConversationView) bool) (ConversationView, error) {
	for {
		s.mu.Lock()
		c, ok := s.convs[id]
		var v ConversationView
		if ok {
			v = s.view(c)
		}
		ch := s.changed
		s.mu.Unlock()
		if !ok {
			return v, fmt.Errorf("%w: %s", ErrNoConversation, id)
		}
		if cond(v) {
			return v, nil
		}
		if err := s.wait(ctx, ch); err != nil {
			return v, fmt.Errorf("conversation %s (state %s): %w", id, v.State, err)
		}
	}
}

// WaitStats blocks until the simulator-wide counters satisfy cond.
func (s *Sim) WaitStats(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	for {
		s.mu.Lock()
		st, ch := s.stats, s.changed
		s.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		if err := s.wait(ctx, ch); err != nil {
			return st, err
		}
	}
}

func (s *Sim) wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("miawsim: wait: %w", ctx.Err())
	case <-s.done:
		return ErrClosed
	}
}

// handleEvents streams changes as Server-Sent Events.
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	ch := make(chan ctlEvent, 256)
	s.mu.Lock()
	views := make([]ConversationView, 0, len(s.order))
	for _, id := range s.order {
		views = append(views, s.view(s.convs[id]))
	}
	stats := s.stats
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	snap, _ := json.Marshal(map[string]any{"type": EventSnapshot, "conversations": views, "stats": stats})
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 2000\nevent: %s\ndata: %s\n\n", EventSnapshot, snap); err != nil || rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data); err != nil {
				return
			}
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
