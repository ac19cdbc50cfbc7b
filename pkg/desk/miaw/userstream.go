package miaw

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// maxPending bounds the entries a stream holds for a Receive that does not come; beyond it the
// stream starts over (reconnect and backfill).
const maxPending = 5000

// userStream is the event stream of one LINE user, filtered to one conversation, with the
// entries received and not yet acknowledged by a stored state.
type userStream struct {
	d           *Desk
	conv        ConversationID
	user        User
	lastEventID string // the state's, sent as Last-Event-Id on the first connection
	sub         *Stream

	// Guarded by d.mu.
	users    int
	lastUsed time.Time

	mu      sync.Mutex
	items   []item
	ids     map[string]bool // identifiers in items
	seen    map[string]bool // identifiers acknowledged by the latest state
	cursor  int64           // cursor of the latest state
	changed chan struct{}   // closed and replaced when items change
	gone    error           // the conversation is over for good
	lost    bool            // a send got 417
	reset   bool            // too many pending entries: start over
}

type item struct {
	id      string
	sseID   string
	ts      int64
	persist bool
	entry   Entry
}

func newUserStream(d *Desk, st deskState) *userStream {
	us := &userStream{
		d: d, conv: st.Conv, user: st.user(), lastEventID: st.LastEventID,
		ids: map[string]bool{}, changed: make(chan struct{}), lastUsed: time.Now(),
	}
	us.acknowledge(st)
	return us
}

func (us *userStream) start() {
	us.sub = us.d.c.OpenStream(us.d.ctx, us.user, StreamOptions{
		LastEventID: us.lastEventID,
		OnConnect:   us.backfill,
		OnEvent:     us.onEvent,
		OnError: func(err error) {
			us.d.log.Info("miaw: event stream interrupted", "conversation", us.conv, "err", err)
		},
	})
}

func (us *userStream) close() {
	if us.sub != nil {
		us.sub.Close()
	}
}

// dead reports whether the stream must be replaced. Called with d.mu held.
func (us *userStream) dead() bool {
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.reset {
		return true
	}
	select {
	case <-us.sub.Done():
		return us.gone == nil
	default:
		return false
	}
}

// acknowledge records the state the core stored: entries it lists are delivered and leave
// the pending list.
func (us *userStream) acknowledge(st deskState) {
	us.mu.Lock()
	defer us.mu.Unlock()
	us.seen = make(map[string]bool, len(st.Seen))
	for _, id := range st.Seen {
		us.seen[id] = true
	}
	us.cursor = st.Cursor
	kept := us.items[:0]
	for _, it := range us.items {
		if us.seen[it.id] {
			delete(us.ids, it.id)
			continue
		}
		kept = append(kept, it)
	}
	clear(us.items[len(kept):])
	us.items = kept
}

func (us *userStream) notifyLocked() {
	close(us.changed)
	us.changed = make(chan struct{})
}

// backfill lists the entries since the acknowledged cursor. It runs after every connection,
// before the connection's events are read, so entries keep their order.
func (us *userStream) backfill(ctx context.Context, first bool) error {
	us.mu.Lock()
	since := us.cursor
	us.mu.Unlock()
	if since > 0 {
		since-- // the API's bound may be exclusive; duplicates are dropped by identifier
	}
	entries, err := us.d.c.EntriesSince(ctx, us.user, us.conv, since, 0)
	if err != nil {
		var gone error
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden):
			gone = fmt.Errorf("%w: %w", bridge.ErrSessionGone, err)
		case errors.Is(err, ErrUnauthorized) && us.user.Token != "":
			gone = fmt.Errorf("%w: guest token rejected: %w", bridge.ErrSessionGone, err)
		}
		if gone != nil {
			us.mu.Lock()
			us.gone = gone
			us.notifyLocked()
			us.mu.Unlock()
		}
		return fmt.Errorf("backfill: %w", err)
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	n := 0
	for _, e := range entries {
		if us.addLocked(e, "") {
			n++
		}
	}
	if n > 0 {
		us.notifyLocked()
	}
	us.d.log.Debug("miaw: backfilled", "conversation", us.conv, "first", first, "entries", len(entries), "new", n)
	return nil
}

func (us *userStream) onEvent(ev StreamEvent) {
	if !knownEvent(ev.Type) {
		return
	}
	data, err := ev.Decode()
	if err != nil {
		us.d.log.Warn("miaw: undecodable event", "type", ev.Type, "err", err)
		return
	}
	if data.ConversationID != us.conv || data.ConversationEntry == nil {
		return // another conversation of the same end user
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.addLocked(*data.ConversationEntry, ev.ID) {
		us.notifyLocked()
	}
}

// addLocked queues e unless it is irrelevant, an echo, or a duplicate.
func (us *userStream) addLocked(e Entry, sseID string) bool {
	if !relevantEntry(e.EntryType) || echo(e) {
		return false
	}
	id := e.Identifier
	if id == "" {
		if sseID == "" {
			return false
		}
		id = "event:" + sseID
	}
	if us.ids[id] || us.seen[id] {
		return false
	}
	it := item{id: id, sseID: sseID, ts: e.TranscriptedTimestamp, persist: persistentEntry(e.EntryType), entry: e}
	if it.persist && it.ts > 0 && us.cursor > 0 && it.ts < us.cursor-us.d.opt.ReorderWindow.Milliseconds() {
		return false // an old entry replayed after it left the seen window
	}
	if len(us.items) >= maxPending {
		us.reset = true
		return false
	}
	us.items = append(us.items, it)
	us.ids[id] = true
	return true
}

// take converts the pending entries (at most MaxBatch) for a batch on top of st. It reports
// whether it took any, the channel closed on the next change, and the terminal error if the
// conversation is gone and nothing is pending.
func (us *userStream) take(st deskState) (evs []bridge.Event, ns deskState, took bool, changed <-chan struct{}, gone error) {
	us.mu.Lock()
	defer us.mu.Unlock()
	ns = st.clone()
	n := 0
	for _, it := range us.items {
		if n >= us.d.opt.MaxBatch {
			break
		}
		evs = append(evs, toEvents(&ns, it.entry)...)
		ns.Seen = append(ns.Seen, it.id)
		if it.persist && it.ts > ns.Cursor {
			ns.Cursor = it.ts
		}
		if it.sseID != "" {
			ns.LastEventID = it.sseID
		}
		n++
	}
	if n == len(us.items) && us.sub != nil {
		if id := us.sub.LastEventID(); id != "" {
			ns.LastEventID = id
		}
	}
	if w := us.d.opt.SeenWindow; len(ns.Seen) > w {
		ns.Seen = append([]string(nil), ns.Seen[len(ns.Seen)-w:]...)
	}
	return evs, ns, n > 0, us.changed, us.gone
}

// stopped records why the stream stopped, if it did so for good.
func (us *userStream) stopped() {
	err := us.sub.Err()
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.gone != nil {
		return
	}
	switch {
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrNoToken):
		us.gone = fmt.Errorf("%w: %w", bridge.ErrSessionGone, err)
	default:
		us.gone = fmt.Errorf("miaw: event stream stopped: %w", err)
		us.reset = true
	}
	us.notifyLocked()
}

func (us *userStream) sessionLost() bool {
	us.mu.Lock()
	defer us.mu.Unlock()
	return us.lost
}
