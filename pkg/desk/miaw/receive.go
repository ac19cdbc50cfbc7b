package miaw

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Receive implements bridge.Desk: it returns the next entries of the chat's conversation from
// the user's event stream (opened on first use, kept open between calls), as soon as there is
// at least one, or an empty batch after DeskOptions.Wait.
//
// After every (re)connection the stream first lists the entries since the state's cursor, so
// nothing that happened while it was down is lost. Entries are de-duplicated by identifier
// against the state's seen window and the pending ones; the end user's echoed entries and
// unknown event types are dropped. Each event's ID is its entry identifier, and Batch.Seq is
// -1. An entry leaves the adapter's memory only once a later Receive gets a state that
// records it, so a batch the core failed to store is returned again.
//
// An unknown or inaccessible conversation is bridge.ErrSessionGone.
func (d *Desk) Receive(ctx context.Context, raw []byte) (bridge.Batch, error) {
	st, err := decodeState(raw)
	if err != nil {
		return bridge.Batch{}, fmt.Errorf("%w: %w", bridge.ErrSessionGone, err)
	}
	if st.Token != "" && st.TokenExp > 0 && !time.Now().Before(time.Unix(st.TokenExp, 0)) {
		return bridge.Batch{}, fmt.Errorf("%w: miaw: the guest token of the conversation expired", bridge.ErrSessionGone)
	}
	us, err := d.attach(st)
	if err != nil {
		return bridge.Batch{}, err
	}
	defer d.release(us)
	us.acknowledge(st)

	wasUp, connects, _ := us.sub.Status()
	timer := time.NewTimer(d.opt.Wait)
	defer timer.Stop()
	for {
		evs, ns, took, changed, gone := us.take(st)
		if took {
			return bridge.Batch{Events: evs, State: ns.encode(), Seq: -1}, nil
		}
		if gone != nil {
			return bridge.Batch{}, gone
		}
		select {
		case <-changed:
		case <-us.sub.Done():
			us.stopped()
		case <-ctx.Done():
			return bridge.Batch{}, ctx.Err()
		case <-timer.C:
			if us.sessionLost() {
				return bridge.Batch{}, fmt.Errorf("%w: miaw: no messaging session (417) and no end event", bridge.ErrSessionGone)
			}
			// Down for the whole wait: tell the core (it logs and backs off).
			if up, n, lastErr := us.sub.Status(); !wasUp && !up && n == connects && lastErr != nil {
				return bridge.Batch{}, fmt.Errorf("miaw: event stream down: %w", lastErr)
			}
			if ns.LastEventID != st.LastEventID {
				return bridge.Batch{State: ns.encode(), Seq: -1}, nil
			}
			return bridge.Batch{Seq: -1}, nil
		}
	}
}

// attach returns the user's stream for st's conversation, opening it if needed (and closing a
// stream of another conversation of the same user).
func (d *Desk) attach(st deskState) (*userStream, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("miaw: desk closed")
	}
	if old := d.streams[st.User]; old != nil && old.conv == st.Conv && !old.dead() {
		old.users++
		d.mu.Unlock()
		return old, nil
	}
	d.mu.Unlock()
	us := newUserStream(d, st)
	us.start()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		us.close()
		return nil, errors.New("miaw: desk closed")
	}
	old := d.streams[st.User]
	us.users = 1
	d.streams[st.User] = us
	d.mu.Unlock()
	if old != nil {
		old.close()
	}
	return us, nil
}

func (d *Desk) release(us *userStream) {
	d.mu.Lock()
	us.users--
	us.lastUsed = time.Now()
	d.mu.Unlock()
}

// noSession records a 417 for the user's stream: unless an end event arrives within one
// Receive wait, the chat is over.
func (d *Desk) noSession(st deskState) {
	d.mu.Lock()
	us := d.streams[st.User]
	d.mu.Unlock()
	if us != nil && us.conv == st.Conv {
		us.mu.Lock()
		us.lost = true
		us.mu.Unlock()
	}
}
