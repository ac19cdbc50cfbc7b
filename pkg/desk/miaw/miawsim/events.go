package miawsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
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

// notify records a change of c for waiters and /control/events. Called with s.mu held.
func (s *Sim) notify(kind string, c *conversation, text string) {
	s.changes.Notify()
	s.hub.BroadcastJSON(kind, func() any {
		return Event{Type: kind, ConversationID: c.id, Text: text, Conversation: s.view(c), Time: s.opts.Now()}
	})
}

// notifyStats records a change of the counters. Called with s.mu held.
func (s *Sim) notifyStats() {
	s.changes.Notify()
	s.hub.BroadcastJSON(EventStats, func() any { return map[string]any{"type": EventStats, "stats": s.stats} })
}

// snapshot returns the views of all conversations and the change channel of that state.
func (s *Sim) snapshot() ([]ConversationView, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewsLocked(), s.changes.Changed()
}

// viewsLocked snapshots all conversations, oldest first. Called with s.mu held.
func (s *Sim) viewsLocked() []ConversationView {
	views := make([]ConversationView, 0, len(s.order))
	for _, id := range s.order {
		views = append(views, s.view(s.convs[id]))
	}
	return views
}

// WaitFor blocks until some conversation satisfies cond and returns its snapshot. cond runs
// without the simulator's lock on every change. It returns ctx's error when ctx ends and
// ErrClosed when the simulator is closed.
func (s *Sim) WaitFor(ctx context.Context, cond func(ConversationView) bool) (ConversationView, error) {
	return simkit.WaitFor(ctx, s.life, "miawsim: wait", s.snapshot, cond)
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
		ch := s.changes.Changed()
		s.mu.Unlock()
		if !ok {
			return v, fmt.Errorf("%w: %s", ErrNoConversation, id)
		}
		if cond(v) {
			return v, nil
		}
		if err := s.life.Wait(ctx, ch, "miawsim: wait"); err != nil {
			return v, fmt.Errorf("conversation %s (state %s): %w", id, v.State, err)
		}
	}
}

// WaitStats blocks until the simulator-wide counters satisfy cond.
func (s *Sim) WaitStats(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	for {
		s.mu.Lock()
		st, ch := s.stats, s.changes.Changed()
		s.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		if err := s.life.Wait(ctx, ch, "miawsim: wait"); err != nil {
			return st, err
		}
	}
}

// handleEvents streams changes as Server-Sent Events, starting with a snapshot.
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	views := s.viewsLocked()
	stats := s.stats
	sub := s.hub.Subscribe()
	s.mu.Unlock()
	snap, _ := json.Marshal(map[string]any{"type": EventSnapshot, "conversations": views, "stats": stats})
	s.hub.Serve(w, r, sub, simkit.Event{Name: EventSnapshot, Data: snap})
}
