package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// statusRecorder captures the status and (optionally) the body written.
type statusRecorder struct {
	http.ResponseWriter
	status int
	body   *bytes.Buffer
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body != nil {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SimTap wraps the Live Agent simulator's handler and watches its traffic:
// every Messages payload (how the desk batches events, for the comparison
// with the seed's keep-the-last-event rule), the time each agent text left
// the simulator, the time each visitor text was accepted, and how long each
// session went without a poll.
type SimTap struct {
	h http.Handler

	// OnAgentText is called (if set) for every ChatMessage text in a new
	// Messages payload, once the payload was written.
	OnAgentText func(text string, at time.Time)
	// OnVisitorText is called (if set) when a ChatMessage POST was answered
	// 200.
	OnVisitorText func(text string, at time.Time)

	mu       sync.Mutex
	seen     map[string]bool // key + "#" + sequence of payloads already counted
	sessions map[string]*pollState
	stats    BatchStats
}

// BatchStats describe the Messages payloads (batches) the desk delivered.
type BatchStats struct {
	Payloads           int // new 200 payloads (redeliveries excluded)
	Redeliveries       int // 200 payloads with a sequence already seen
	Events             int
	ChatMessages       int // agent texts
	MultiChatMessage   int // payloads with more than one agent text
	MultiEvent         int // payloads with more than one event
	SeedLostChatMsgs   int // agent texts that are not the last event of their payload
	SeedLostEvents     int // events that are not the last of their payload
	MaxEventsInPayload int
}

type pollState struct {
	inFlight int
	lastEnd  time.Time
	maxGap   time.Duration
}

// NewSimTap wraps h (a *lasim.Sim).
func NewSimTap(h http.Handler) *SimTap {
	return &SimTap{h: h, seen: map[string]bool{}, sessions: map[string]*pollState{}}
}

// ServeHTTP implements http.Handler.
func (t *SimTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/System/Messages"):
		t.messages(w, r)
	case strings.HasSuffix(p, "/Chasitor/ChatMessage") && t.OnVisitorText != nil:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w}
		t.h.ServeHTTP(rec, r)
		if rec.status == http.StatusOK {
			var m struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(body, &m) == nil {
				t.OnVisitorText(m.Text, time.Now())
			}
		}
	default:
		t.h.ServeHTTP(w, r)
	}
}

func (t *SimTap) messages(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-LIVEAGENT-SESSION-KEY")
	now := time.Now()
	t.mu.Lock()
	ps := t.sessions[key]
	if ps == nil {
		ps = &pollState{}
		t.sessions[key] = ps
	}
	if ps.inFlight == 0 && !ps.lastEnd.IsZero() {
		if gap := now.Sub(ps.lastEnd); gap > ps.maxGap {
			ps.maxGap = gap
		}
	}
	ps.inFlight++
	t.mu.Unlock()

	rec := &statusRecorder{ResponseWriter: w, body: &bytes.Buffer{}}
	t.h.ServeHTTP(rec, r)
	end := time.Now()

	t.mu.Lock()
	ps.inFlight--
	ps.lastEnd = end
	t.mu.Unlock()
	if rec.status != http.StatusOK || rec.body.Len() == 0 {
		return
	}
	var m struct {
		Messages []struct {
			Type    string `json:"type"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
		} `json:"messages"`
		Sequence json.Number `json:"sequence"`
	}
	if json.Unmarshal(rec.body.Bytes(), &m) != nil {
		return
	}
	id := key + "#" + m.Sequence.String()
	t.mu.Lock()
	if t.seen[id] {
		t.stats.Redeliveries++
		t.mu.Unlock()
		return
	}
	t.seen[id] = true
	s := &t.stats
	s.Payloads++
	s.Events += len(m.Messages)
	s.MaxEventsInPayload = max(s.MaxEventsInPayload, len(m.Messages))
	if len(m.Messages) > 1 {
		s.MultiEvent++
		s.SeedLostEvents += len(m.Messages) - 1
	}
	chat := 0
	for i, e := range m.Messages {
		if e.Type == "ChatMessage" {
			chat++
			if i != len(m.Messages)-1 {
				s.SeedLostChatMsgs++
			}
		}
	}
	s.ChatMessages += chat
	if chat > 1 {
		s.MultiChatMessage++
	}
	t.mu.Unlock()
	if t.OnAgentText != nil {
		for _, e := range m.Messages {
			if e.Type == "ChatMessage" {
				t.OnAgentText(e.Message.Text, end)
			}
		}
	}
}

// Stats returns the batch statistics so far.
func (t *SimTap) Stats() BatchStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// MaxPollGap is the longest time any session went without a Messages
// request in flight (between the end of one and the start of the next),
// ignoring sessions whose polling stopped for good.
func (t *SimTap) MaxPollGap() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var m time.Duration
	for _, ps := range t.sessions {
		m = max(m, ps.maxGap)
	}
	return m
}

// ResetMaxPollGap forgets the gaps seen so far.
func (t *SimTap) ResetMaxPollGap() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range t.sessions {
		ps.maxGap = 0
	}
}

// LineTap wraps the fake LINE platform and reports every accepted push.
type LineTap struct {
	h http.Handler
	// OnPush is called for every push answered 200, with the arrival time.
	OnPush func(to string, texts []string, arrived time.Time)
}

// NewLineTap wraps h (a *linesim.Server).
func NewLineTap(h http.Handler) *LineTap { return &LineTap{h: h} }

// ServeHTTP implements http.Handler.
func (t *LineTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t.OnPush == nil || !strings.HasSuffix(r.URL.Path, "/v2/bot/message/push") {
		t.h.ServeHTTP(w, r)
		return
	}
	arrived := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w}
	t.h.ServeHTTP(rec, r)
	if rec.status != http.StatusOK {
		return
	}
	var m struct {
		To       string `json:"to"`
		Messages []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &m) != nil {
		return
	}
	texts := make([]string, 0, len(m.Messages))
	for _, msg := range m.Messages {
		if msg.Type == "text" {
			texts = append(texts, msg.Text)
		}
	}
	t.OnPush(m.To, texts, arrived)
}
