package miaw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// StreamEvent is one event of the conversation event stream.
type StreamEvent struct {
	// ID is the event's id (the stream's last event id after it).
	ID   string
	Type string
	Data []byte
}

// Decode parses the data of a conversation event.
func (e StreamEvent) Decode() (EventData, error) {
	var d EventData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("miaw: decode %s event: %w", e.Type, err)
	}
	return d, nil
}

// StreamOptions configure [Client.OpenStream].
type StreamOptions struct {
	// LastEventID is sent as Last-Event-Id on the first connection; later connections send
	// the id of the last event received.
	LastEventID string
	// OnConnect runs after each successful connection, before any of its events is read:
	// the place to backfill from the entries what the stream may have missed. first is true
	// for the first connection. An error drops the connection, which is retried with backoff.
	OnConnect func(ctx context.Context, first bool) error
	// OnEvent receives every event but heartbeats, in order, never concurrently.
	OnEvent func(StreamEvent)
	// OnError is told about each failed connection attempt and each dropped connection.
	OnError func(err error)
}

// Stream is a conversation event stream kept connected by its own goroutine: it reconnects
// with backoff after a failure, a drop or a silence longer than Config.SilenceTimeout. It stops
// when its context ends, on [Stream.Close], or when the user's token cannot be renewed
// (guest mode, 401).
type Stream struct {
	c      *Client
	u      User
	opt    StreamOptions
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	lastID    string
	connected bool
	connects  int
	lastErr   error
	err       error // why the stream stopped
}

// OpenStream starts a stream for u. It returns at once; the first connection is made in the
// background.
func (c *Client) OpenStream(ctx context.Context, u User, opt StreamOptions) *Stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{c: c, u: u, opt: opt, cancel: cancel, done: make(chan struct{}), lastID: opt.LastEventID}
	go s.run(ctx)
	return s
}

// Close stops the stream and waits for its goroutine.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

// Done is closed when the stream has stopped.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err is why the stream stopped (nil while it runs; context.Canceled after Close).
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// LastEventID is the id of the last event received (or the initial one).
func (s *Stream) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastID
}

// Status reports whether a connection is up, how many connections were made, and the last
// error (nil once a connection has succeeded again).
func (s *Stream) Status() (connected bool, connects int, lastErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected, s.connects, s.lastErr
}

func (s *Stream) run(ctx context.Context) {
	var stopErr error
	defer func() {
		s.mu.Lock()
		s.connected = false
		if stopErr == nil {
			stopErr = context.Cause(ctx)
		}
		s.err = stopErr
		s.mu.Unlock()
		close(s.done)
	}()
	first, reminted, attempt := true, false, 0
	for ctx.Err() == nil {
		accepted, err := s.connect(ctx, first)
		if ctx.Err() != nil {
			return
		}
		if accepted {
			first, reminted, attempt = false, false, 0
		}
		s.mu.Lock()
		s.connected, s.lastErr = false, err
		s.mu.Unlock()
		if err != nil && s.opt.OnError != nil {
			s.opt.OnError(err)
		}
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNoToken) {
			if !s.c.renewable(request{user: &s.u}) {
				stopErr = err
				return
			}
			if !reminted {
				reminted = true
				s.c.ForgetToken(s.u.ID, "")
				continue
			}
		}
		attempt++
		if sleepCtx(ctx, s.backoff(attempt)) != nil {
			return
		}
	}
}

// backoff is ReconnectMin × 1.5^(attempt-1), at most ReconnectMax, ±20 % jitter.
func (s *Stream) backoff(attempt int) time.Duration {
	d := float64(s.c.cfg.ReconnectMin)
	for i := 1; i < attempt && d < float64(s.c.cfg.ReconnectMax); i++ {
		d *= 1.5
	}
	d = min(d, float64(s.c.cfg.ReconnectMax))
	return time.Duration(d * (0.8 + 0.4*rand.Float64()))
}

// connect makes one connection and reads it until it ends. accepted reports whether the
// server accepted it (and OnConnect succeeded).
func (s *Stream) connect(ctx context.Context, first bool) (accepted bool, err error) {
	c := s.c
	tok, err := c.bearerFor(ctx, request{user: &s.u})
	if err != nil {
		return false, fmt.Errorf("miaw: event stream: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, c.cfg.URL+pathSSE, nil)
	if err != nil {
		return false, err
	}
	h := req.Header
	h.Set("Accept", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("User-Agent", userAgent)
	h.Set("Authorization", "Bearer "+tok)
	h.Set("X-Org-Id", c.cfg.OrgID)
	if id := s.LastEventID(); id != "" {
		h.Set("Last-Event-Id", id)
	}
	var headerTimeout atomic.Bool
	ht := time.AfterFunc(c.cfg.RequestTimeout, func() { headerTimeout.Store(true); cancel() })
	resp, err := c.hc.Do(req)
	ht.Stop()
	if err != nil {
		if headerTimeout.Load() && ctx.Err() == nil {
			return false, fmt.Errorf("miaw: event stream: %w after %s", ErrTimeout, c.cfg.RequestTimeout)
		}
		return false, fmt.Errorf("miaw: event stream: %w", transportError(ctx, cctx, c.cfg.RequestTimeout, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("miaw: %w", newStatusError("event stream", resp, c.cfg.Now()))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/event-stream") {
		return false, fmt.Errorf("miaw: event stream: unexpected content type %q", ct)
	}
	if s.opt.OnConnect != nil {
		if err := s.opt.OnConnect(cctx, first); err != nil {
			return false, fmt.Errorf("miaw: event stream: on connect: %w", err)
		}
	}
	s.mu.Lock()
	s.connected, s.lastErr = true, nil
	s.connects++
	s.mu.Unlock()

	var silent atomic.Bool
	wd := time.AfterFunc(c.cfg.SilenceTimeout, func() { silent.Store(true); cancel() })
	defer wd.Stop()
	body := &activityReader{r: resp.Body, touch: func() { wd.Reset(c.cfg.SilenceTimeout) }}
	p := NewSSEReader(body)
	p.SetLastEventID(s.LastEventID())
	for {
		ev, err := p.Next()
		if err != nil {
			switch {
			case silent.Load() && ctx.Err() == nil:
				err = fmt.Errorf("%w for %s", ErrStreamSilent, c.cfg.SilenceTimeout)
			case errors.Is(err, io.EOF):
				err = fmt.Errorf("miaw: event stream closed by the server: %w", io.ErrUnexpectedEOF)
			default:
				err = fmt.Errorf("miaw: event stream: %w", err)
			}
			return true, err
		}
		if ev.HasID {
			s.mu.Lock()
			s.lastID = ev.ID
			s.mu.Unlock()
		}
		if ev.Type == EventPing || strings.TrimSpace(ev.Data) == "" {
			continue
		}
		if s.opt.OnEvent != nil {
			s.opt.OnEvent(StreamEvent{ID: ev.ID, Type: ev.Type, Data: []byte(ev.Data)})
		}
	}
}

// activityReader calls touch whenever bytes arrive (heartbeats and comments included).
type activityReader struct {
	r     io.Reader
	touch func()
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.touch()
	}
	return n, err
}
