package lasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
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

type sseEvent struct {
	name string
	data []byte
}

// notify records a change of c: it wakes WaitFor callers and sends an event to the
// /control/events subscribers. Called with s.mu held.
func (s *Sim) notify(kind string, c *chat, text string) {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
	if len(s.subs) == 0 {
		return
	}
	data, err := json.Marshal(Event{Type: kind, ChatID: c.id, Text: text, Chat: s.view(c), Time: s.opts.Now()})
	if err != nil {
		return
	}
	ev := sseEvent{name: kind, data: data}
	for ch := range s.subs {
		select {
		case ch <- ev:
		default: // too slow: drop the subscriber, its handler returns
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// WaitFor blocks until some chat satisfies cond and returns its snapshot. cond is evaluated
// without the simulator's lock held (it may call other methods) on every change. It returns
// ctx.Err() when ctx ends and ErrClosed when the simulator is closed.
func (s *Sim) WaitFor(ctx context.Context, cond func(ChatView) bool) (ChatView, error) {
	for {
		s.mu.Lock()
		views := make([]ChatView, 0, len(s.order))
		for _, id := range s.order {
			views = append(views, s.view(s.chats[id]))
		}
		ch := s.changed
		s.mu.Unlock()
		for _, v := range views {
			if cond(v) {
				return v, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ChatView{}, fmt.Errorf("lasim: wait: %w", ctx.Err())
		case <-s.done:
			return ChatView{}, ErrClosed
		}
	}
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
		ch := s.changed
		s.mu.Unlock()
		if !ok {
			return ChatView{}, fmt.Errorf("%w: %s", ErrNoChat, id)
		}
		if cond(v) {
			return v, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return v, fmt.Errorf("lasim: wait for chat %s (state %s): %w", id, v.State, ctx.Err())
		case <-s.done:
			return v, ErrClosed
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

// handleEvents streams chat changes as Server-Sent Events.
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")

	ch := make(chan sseEvent, 256)
	s.mu.Lock()
	views := make([]ChatView, 0, len(s.order))
	for _, id := range s.order {
		views = append(views, s.view(s.chats[id]))
	}
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()

	snap, _ := json.Marshal(struct {
		Type  string     `json:"type"`
		Chats []ChatView `json:"chats"`
	}{EventSnapshot, views})
	w.WriteHeader(http.StatusOK)
	if err := writeSSE(w, sseEvent{name: EventSnapshot, data: snap}, "retry: 2000\n"); err != nil {
		return
	}
	if rc.Flush() != nil {
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
			if writeSSE(w, ev, "") != nil {
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

func writeSSE(w http.ResponseWriter, ev sseEvent, prefix string) error {
	_, err := fmt.Fprintf(w, "%sevent: %s\ndata: %s\n\n", prefix, ev.name, ev.data)
	return err
}
