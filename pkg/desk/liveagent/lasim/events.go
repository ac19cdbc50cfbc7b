package lasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Event types of the /control/events stream.
const (
	EventSnapshot       = "snapshot"        // first event: data is {"chats":[ChatView…]}
	EventChatCreated    = "chat.created"    // SessionId issued
	EventChatUpdated    = "chat.updated"    // any state change (request, accept, poll, typing …)
	EventChatEnded      = "chat.ended"      // ended or expired
	EventVisitorMessage = "visitor.message" // the visitor sent a text (Event.Text)
	EventFileUploaded   = "file.uploaded"   // the visitor uploaded a requested file
)

// Event is the data of one /control/events Server-Sent Event (the SSE "event:" field is Type).
type Event struct {
	Type   string    `json:"type"`
	ChatID string    `json:"chatId"`
	Text   string    `json:"text,omitempty"`
	Chat   ChatView  `json:"chat"`
	Time   time.Time `json:"time"`
}

// ErrClosed is returned by waits on a closed simulator.
var ErrClosed = errors.New("lasim: simulator closed")

// notify records a change of c: it wakes WaitFor callers and sends an event to the
// /control/events subscribers. Called with s.mu held.
func (s *Sim) notify(kind string, c *chat, text string) {
	s.changes.Notify()
	s.hub.BroadcastJSON(kind, func() any {
		return Event{Type: kind, ChatID: c.id, Text: text, Chat: s.view(c), Time: s.opts.Now()}
	})
}

// snapshot returns the views of all chats and the change channel of that state.
func (s *Sim) snapshot() ([]ChatView, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewsLocked(), s.changes.Changed()
}

// viewsLocked snapshots all chats, oldest first. Called with s.mu held.
func (s *Sim) viewsLocked() []ChatView {
	views := make([]ChatView, 0, len(s.order))
	for _, id := range s.order {
		views = append(views, s.view(s.chats[id]))
	}
	return views
}

// WaitFor blocks until some chat satisfies cond and returns its snapshot. cond is evaluated
// without the simulator's lock held (it may call other methods) on every change. It returns
// ctx.Err() when ctx ends and ErrClosed when the simulator is closed.
func (s *Sim) WaitFor(ctx context.Context, cond func(ChatView) bool) (ChatView, error) {
	return simkit.WaitFor(ctx, s.life, "lasim: wait", s.snapshot, cond)
}

// WaitChat blocks until the chat id satisfies cond. It returns ErrNoChat if the chat does not
// exist (or is pruned) while waiting.
func (s *Sim) WaitChat(ctx context.Context, id string, cond func(ChatView) bool) (ChatView, error) {
	for {
		s.mu.Lock()
		c, ok := s.chats[id]
		var v ChatView
		if ok {
			v = s.view(c)
		}
		ch := s.changes.Changed()
		s.mu.Unlock()
		if !ok {
			return ChatView{}, fmt.Errorf("%w: %s", ErrNoChat, id)
		}
		if cond(v) {
			return v, nil
		}
		if err := s.life.Wait(ctx, ch, fmt.Sprintf("lasim: wait for chat %s (state %s)", id, v.State)); err != nil {
			return v, err
		}
	}
}

// WaitNewChat waits for a chat that is not in known (ids) and returns it; handy after a client
// created a session.
func (s *Sim) WaitNewChat(ctx context.Context, known ...string) (ChatView, error) {
	return s.WaitFor(ctx, func(v ChatView) bool {
		for _, k := range known {
			if v.ID == k {
				return false
			}
		}
		return true
	})
}

// handleEvents streams chat changes as Server-Sent Events, starting with a snapshot.
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	views := s.viewsLocked()
	sub := s.hub.Subscribe()
	s.mu.Unlock()
	snap, _ := json.Marshal(struct {
		Type  string     `json:"type"`
		Chats []ChatView `json:"chats"`
	}{EventSnapshot, views})
	s.hub.Serve(w, r, sub, simkit.Event{Name: EventSnapshot, Data: snap})
}
