package miaw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// DeskOptions tune the bridge.Desk adapter. Zero values take the defaults.
type DeskOptions struct {
	// UserIDField and DisplayNameField are the routing attributes (hidden pre-chat fields of
	// the deployment) carrying the LINE user id and display name (defaults "LineUserId" and
	// "LineDisplayName"). Visitor.Fields are added as further routing attributes, verbatim.
	UserIDField      string
	DisplayNameField string
	// Wait bounds one Receive without events (default 25s), so that the core's loop stays
	// responsive.
	Wait time.Duration
	// IdleTimeout closes a user's event stream that no Receive has used for this long
	// (default 2m): a safety net behind Detach.
	IdleTimeout time.Duration
	// SeenWindow is how many delivered entry identifiers the state keeps for de-duplication
	// (default 256); MaxBatch bounds the entries of one batch (default 100).
	SeenWindow int
	MaxBatch   int
	// ReorderWindow: a persistent entry older than the cursor by more than this, and not in
	// the seen window, is an old duplicate and dropped (default 5m).
	ReorderWindow time.Duration
	Logger        *slog.Logger
}

func (o *DeskOptions) defaults() {
	if o.UserIDField == "" {
		o.UserIDField = "LineUserId"
	}
	if o.DisplayNameField == "" {
		o.DisplayNameField = "LineDisplayName"
	}
	if o.Wait <= 0 {
		o.Wait = 25 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.SeenWindow <= 0 {
		o.SeenWindow = 256
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 100
	}
	if o.MaxBatch > o.SeenWindow {
		o.MaxBatch = o.SeenWindow
	}
	if o.ReorderWindow <= 0 {
		o.ReorderWindow = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Desk adapts the MIAW API to bridge.Desk. It keeps one event stream per LINE user between
// Receive calls (closed by Detach, by Close, or after IdleTimeout unused); everything else a
// chat needs is in the state the core stores, so any instance can drive any chat.
type Desk struct {
	c   *Client
	opt DeskOptions
	log *slog.Logger

	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	streams map[string]*userStream // by LINE user id
	closed  bool
}

var (
	_ bridge.Desk     = (*Desk)(nil)
	_ bridge.Typer    = (*Desk)(nil)
	_ bridge.Detacher = (*Desk)(nil)
)

// NewDesk returns the adapter over c. Call Close when done: it stops the event streams and
// waits for their goroutines.
func NewDesk(c *Client, opt DeskOptions) *Desk {
	opt.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	d := &Desk{c: c, opt: opt, log: opt.Logger, ctx: ctx, cancel: cancel, streams: make(map[string]*userStream)}
	d.wg.Add(1)
	go d.reap()
	return d
}

// Close stops every event stream and the idle reaper, and waits for them.
func (d *Desk) Close() error {
	d.mu.Lock()
	d.closed = true
	streams := make([]*userStream, 0, len(d.streams))
	for k, us := range d.streams {
		streams = append(streams, us)
		delete(d.streams, k)
	}
	d.mu.Unlock()
	d.cancel()
	for _, us := range streams {
		us.close()
	}
	d.wg.Wait()
	return nil
}

// Kind implements bridge.Desk.
func (d *Desk) Kind() string { return "miaw" }

// Start implements bridge.Desk: an access token (authenticated for the LINE user, or a guest
// token), then a new conversation whose routing attributes carry the LINE user id, display
// name and Visitor.Fields. It does not wait for routing.
func (d *Desk) Start(ctx context.Context, v bridge.Visitor, _ int64) ([]byte, error) {
	st := deskState{V: 1, Conv: NewConversationID(), User: string(v.CustomerID), Lang: v.Language}
	if st.User == "" {
		return nil, fmt.Errorf("%w: miaw: start: empty customer id", bridge.ErrPermanent)
	}
	if d.c.Authenticated() {
		tok, err := d.c.Token(ctx, st.User)
		if err != nil {
			return nil, mapStartErr(err)
		}
		st.LastEventID = tok.LastEventID
	} else {
		tok, err := d.c.UnauthenticatedToken(ctx)
		if err != nil {
			return nil, mapStartErr(err)
		}
		st.Token, st.TokenExp, st.LastEventID = tok.AccessToken, tok.Expiry.Unix(), tok.LastEventID
	}
	if err := d.c.CreateConversation(ctx, st.user(), st.Conv, d.routing(v)); err != nil {
		return nil, mapStartErr(err)
	}
	d.log.InfoContext(ctx, "miaw: conversation created", "customer", v.CustomerID, "conversation", st.Conv)
	return st.encode(), nil
}

func (d *Desk) routing(v bridge.Visitor) map[string]string {
	ra := make(map[string]string, len(v.Fields)+2)
	for k, val := range v.Fields {
		ra[k] = val
	}
	ra[d.opt.UserIDField] = string(v.CustomerID)
	if v.DisplayName != "" {
		ra[d.opt.DisplayNameField] = v.DisplayName
	}
	return ra
}

// Send implements bridge.Desk. The message id is derived from the conversation and seq, so a
// retry of the same message reuses it (and a 409 for it means it was sent already).
//
// A 417 (no messaging session: the agent ended the session) is bridge.ErrSessionGone and is
// not re-sent with isNewMessagingSession: that would open a new session, routed to an agent,
// that the bridge (which ends the chat on the agent's SESSION_STATUS_CHANGED Ended) would not
// follow. The chat ends; the customer's next message starts a new chat.
func (d *Desk) Send(ctx context.Context, raw []byte, seq int64, text string) error {
	st, err := decodeState(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	m := TextMessage{ID: messageID(st.Conv, seq), Text: text, Language: st.Lang}
	err = d.c.SendText(ctx, st.user(), st.Conv, m)
	if errors.Is(err, ErrConflict) {
		return nil // the id exists: an earlier attempt went through
	}
	if errors.Is(err, ErrNoSession) {
		d.noSession(st)
	}
	return mapErr(err, st)
}

// Typing implements bridge.Typer.
func (d *Desk) Typing(ctx context.Context, raw []byte, seq int64, typing bool) error {
	st, err := decodeState(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	err = d.c.SendTyping(ctx, st.user(), st.Conv, derivedUUID("typing", string(st.Conv), strconv.FormatInt(seq, 10)), typing)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return mapErr(err, st)
}

// End implements bridge.Desk: it closes the conversation (which ends its messaging session).
// An unknown or already closed conversation, or one whose session is over, is not an error.
func (d *Desk) End(ctx context.Context, raw []byte, _ int64) error {
	st, err := decodeState(raw)
	if err != nil {
		return nil
	}
	err = d.c.CloseConversation(ctx, st.user(), st.Conv)
	switch {
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrNoSession), errors.Is(err, ErrConflict):
		return nil
	}
	return mapErr(err, st)
}

// Detach implements bridge.Detacher: it closes the user's event stream if it serves this
// chat's conversation.
func (d *Desk) Detach(raw []byte) {
	st, err := decodeState(raw)
	if err != nil {
		return
	}
	d.mu.Lock()
	us := d.streams[st.User]
	if us == nil || us.conv != st.Conv || us.users > 0 {
		d.mu.Unlock()
		return
	}
	delete(d.streams, st.User)
	d.mu.Unlock()
	us.close()
}

// messageID derives the id of the customer message with request sequence seq.
func messageID(conv ConversationID, seq int64) string {
	return derivedUUID("message", string(conv), strconv.FormatInt(seq, 10))
}

// mapErr translates client errors for the core.
func mapErr(err error, st deskState) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoSession), errors.Is(err, ErrForbidden), errors.Is(err, ErrNoToken):
		return fmt.Errorf("%w: %w", bridge.ErrSessionGone, err)
	case errors.Is(err, ErrUnauthorized) && st.Token != "":
		return fmt.Errorf("%w: guest token expired: %w", bridge.ErrSessionGone, err)
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrVerificationFailed):
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	return err
}

func mapStartErr(err error) error {
	if Temporary(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
}

// reap closes event streams that no Receive used for IdleTimeout.
func (d *Desk) reap() {
	defer d.wg.Done()
	t := time.NewTicker(max(d.opt.IdleTimeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		var idle []*userStream
		d.mu.Lock()
		for k, us := range d.streams {
			if us.users == 0 && now.Sub(us.lastUsed) > d.opt.IdleTimeout {
				idle = append(idle, us)
				delete(d.streams, k)
			}
		}
		d.mu.Unlock()
		for _, us := range idle {
			d.log.Debug("miaw: closing idle event stream", "conversation", us.conv)
			us.close()
		}
	}
}
