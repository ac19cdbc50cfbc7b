package line

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// The core satisfies the consumer interface.
var _ Bridge = (*bridge.Bridge)(nil)

// changes lets tests await a condition on a fake without sleeping.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *changes) signal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
	}
	c.ch = make(chan struct{})
}

func (c *changes) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

type sent struct {
	c  bridge.CustomerID
	ev bridge.Event
}

type upload struct {
	c           bridge.CustomerID
	name, ctype string
	data        []byte
}

type closed struct {
	c      bridge.CustomerID
	reason bridge.EndReason
}

// fakeBridge is an in-memory core: one chat per customer.
type fakeBridge struct {
	changes
	mu        sync.Mutex
	chats     map[bridge.CustomerID]bridge.Chat
	opened    []bridge.Visitor
	sent      []sent
	closed    []closed
	uploads   []upload
	openErr   error
	uploadErr error
	openGate  chan struct{} // Open waits for it when set
	entered   int           // Open calls started
}

func newFakeBridge() *fakeBridge { return &fakeBridge{chats: make(map[bridge.CustomerID]bridge.Chat)} }

func (f *fakeBridge) setChat(ch bridge.Chat) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chats[ch.Customer] = ch
}

// await waits until cond (called under f.mu) holds.
func (f *fakeBridge) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		ch := f.wait()
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeBridge) Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.chats[c]
	if !ok {
		return bridge.Chat{}, bridge.ErrNoChat
	}
	return ch, nil
}

func (f *fakeBridge) Open(ctx context.Context, v bridge.Visitor) (bridge.Chat, bool, error) {
	f.mu.Lock()
	f.entered++
	gate := f.openGate
	f.mu.Unlock()
	f.signal()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return bridge.Chat{}, false, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.signal()
	defer f.mu.Unlock()
	f.opened = append(f.opened, v)
	if f.openErr != nil {
		return bridge.Chat{}, false, f.openErr
	}
	if ch, ok := f.chats[v.CustomerID]; ok && ch.Status.Open() {
		return ch, false, nil
	}
	ch := bridge.Chat{Customer: v.CustomerID, ID: "chat-new", Status: bridge.StatusStarting, Visitor: v}
	f.chats[v.CustomerID] = ch
	return ch, true, nil
}

func (f *fakeBridge) Send(ctx context.Context, c bridge.CustomerID, ev bridge.Event) error {
	f.mu.Lock()
	defer f.signal()
	defer f.mu.Unlock()
	ch, ok := f.chats[c]
	if !ok {
		return bridge.ErrNoChat
	}
	if !ch.Status.Open() {
		return bridge.ErrChatClosed
	}
	f.sent = append(f.sent, sent{c, ev})
	return nil
}

func (f *fakeBridge) Close(ctx context.Context, c bridge.CustomerID, reason bridge.EndReason) error {
	f.mu.Lock()
	defer f.signal()
	defer f.mu.Unlock()
	ch, ok := f.chats[c]
	if !ok || !ch.Status.Open() {
		return bridge.ErrChatClosed
	}
	ch.Status, ch.EndReason = bridge.StatusEnded, reason
	f.chats[c] = ch
	f.closed = append(f.closed, closed{c, reason})
	return nil
}

func (f *fakeBridge) Upload(ctx context.Context, c bridge.CustomerID, name, contentType string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.signal()
	defer f.mu.Unlock()
	if f.uploadErr != nil {
		return f.uploadErr
	}
	ch := f.chats[c]
	if ch.FileRequest == nil {
		return bridge.ErrNoFileRequested
	}
	ch.FileRequest = nil
	f.chats[c] = ch
	f.uploads = append(f.uploads, upload{c, name, contentType, data})
	return nil
}

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu      sync.Mutex
	seen    map[string]time.Duration
	lines   map[bridge.CustomerID][]string
	onceErr error
}

func newFakeStore() *fakeStore {
	return &fakeStore{seen: make(map[string]time.Duration), lines: make(map[bridge.CustomerID][]string)}
}

func (s *fakeStore) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onceErr != nil {
		return false, s.onceErr
	}
	if _, ok := s.seen[key]; ok {
		return false, nil
	}
	s.seen[key] = ttl
	return true, nil
}

func (s *fakeStore) Remember(ctx context.Context, c bridge.CustomerID, line string, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := append(s.lines[c], line)
	if len(l) > max {
		l = l[len(l)-max:]
	}
	s.lines[c] = l
	return nil
}

func (s *fakeStore) Recall(ctx context.Context, c bridge.CustomerID) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines[c]...), nil
}

var errBoom = errors.New("boom")
