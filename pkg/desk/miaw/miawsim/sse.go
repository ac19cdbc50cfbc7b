package miawsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// sseMsg is one event of an end user's stream.
type sseMsg struct {
	id   int64
	typ  string
	data []byte
}

// stream is one connected event stream.
type stream struct {
	subject string
	token   string
	ch      chan sseMsg
	kill    chan struct{}
	once    sync.Once
}

func (st *stream) drop() { st.once.Do(func() { close(st.kill) }) }

// publish sends an entry of c to the end user's streams. Called with s.mu held.
func (s *Sim) publish(c *conversation, typ string, e *entry) {
	data, err := json.Marshal(map[string]any{
		"channelPlatformKey":       "sim-platform-key",
		"channelType":              "embedded_messaging",
		"channelAddressIdentifier": "sim-channel",
		"conversationId":           c.id,
		"conversationEntry":        e.wire(true),
	})
	if err != nil {
		return
	}
	s.nextEventID++
	m := sseMsg{id: s.nextEventID, typ: typ, data: data}
	recent := append(s.recent[c.subject], m)
	if len(recent) > s.opts.ReplayCapacity {
		recent = recent[len(recent)-s.opts.ReplayCapacity:]
	}
	s.recent[c.subject] = recent
	for st := range s.streams {
		if st.subject != c.subject {
			continue
		}
		select {
		case st.ch <- m:
		default: // too slow: drop it; the client reconnects and backfills
			st.drop()
		}
	}
}

func (s *Sim) handleSSE(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.fault(w, "sse", "") {
		s.mu.Unlock()
		return
	}
	org := r.Header.Get("X-Org-Id")
	switch {
	case org == "":
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "X-Org-Id header required")
		return
	case s.opts.OrgID != "" && !sameOrg(org, s.opts.OrgID):
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "unknown X-Org-Id")
		return
	}
	cl, ok := s.bearer(w, r)
	if !ok {
		s.mu.Unlock()
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	st := &stream{subject: cl.Subject, token: tok, ch: make(chan sseMsg, 1024), kill: make(chan struct{})}
	var replay []sseMsg
	if n := s.replay[cl.Subject]; n > 0 {
		recent := s.recent[cl.Subject]
		replay = append(replay, recent[max(0, len(recent)-n):]...)
		delete(s.replay, cl.Subject)
		s.stats.Replays++
	}
	s.streams[st] = struct{}{}
	s.stats.StreamConnects++
	s.stats.StreamsOpen = len(s.streams)
	heartbeat := s.heartbeat
	s.notifyStats()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.stats.StreamsOpen = len(s.streams)
		s.notifyStats()
		s.mu.Unlock()
	}()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": connected\n\n"); err != nil {
		return
	}
	for _, m := range replay {
		if writeEvent(w, m) != nil {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	for {
		select {
		case m := <-st.ch:
			if writeEvent(w, m) != nil {
				return
			}
		case <-ping.C:
			s.mu.Lock()
			_, err := s.verify(st.token)
			if d := s.heartbeat; d != heartbeat {
				heartbeat = d
				ping.Reset(d)
			}
			s.mu.Unlock()
			if err != nil {
				return // the token expired: the server ends the stream
			}
			if _, err := fmt.Fprint(w, "event: ping\ndata: 0\n\n"); err != nil {
				return
			}
		case <-st.kill:
			s.mu.Lock()
			s.stats.StreamDrops++
			s.notifyStats()
			s.mu.Unlock()
			return
		case <-r.Context().Done():
			return
		case <-s.life.Done():
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func writeEvent(w http.ResponseWriter, m sseMsg) error {
	_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", m.id, m.typ, m.data)
	return err
}

// DropStreams closes the event streams of the end user of conversation id (all streams when id
// is ""), as a network failure would. Events published while the client is away are not
// replayed: the client must backfill from the entries.
func (s *Sim) DropStreams(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	subject := ""
	if id != "" {
		c := s.convs[id]
		if c == nil {
			return fmt.Errorf("%w: %s", ErrNoConversation, id)
		}
		subject = c.subject
	}
	for st := range s.streams {
		if subject == "" || st.subject == subject {
			st.drop()
		}
	}
	return nil
}

// ReplayOnReconnect makes the next event stream connection of conversation id's end user start
// with the last n events it was already sent (duplicates, as seen after reconnects).
func (s *Sim) ReplayOnReconnect(id string, n int) error {
	if n <= 0 {
		return fmt.Errorf("%w: replay count must be positive", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[id]
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoConversation, id)
	}
	s.replay[c.subject] = n
	return nil
}
