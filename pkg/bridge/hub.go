package bridge

import "sync"

// hub wakes the local requests waiting for a customer's next event.
type hub struct {
	mu      sync.Mutex
	waiters map[CustomerID]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{waiters: make(map[CustomerID]map[chan struct{}]struct{})} }

// watch registers a waiter; call stop when done with it.
func (h *hub) watch(c CustomerID) (ch chan struct{}, stop func()) {
	ch = make(chan struct{}, 1)
	h.mu.Lock()
	m := h.waiters[c]
	if m == nil {
		m = make(map[chan struct{}]struct{})
		h.waiters[c] = m
	}
	m[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(m, ch)
		if len(m) == 0 && h.waiters[c] != nil && len(h.waiters[c]) == 0 {
			delete(h.waiters, c)
		}
		h.mu.Unlock()
	}
}

func (h *hub) notify(c CustomerID) {
	h.mu.Lock()
	for ch := range h.waiters[c] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}
