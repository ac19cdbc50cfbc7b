package liveagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// DeskOptions tune the bridge.Desk adapter.
type DeskOptions struct {
	// PrechatLabel labels the pre-chat detail carrying the LINE user id
	// (default "ContactLineId", as the Django original).
	PrechatLabel string
	Logger       *slog.Logger
}

// Desk adapts the Chat REST API to bridge.Desk.
type Desk struct {
	c   *Client
	opt DeskOptions
}

var (
	_ bridge.Desk         = (*Desk)(nil)
	_ bridge.Typer        = (*Desk)(nil)
	_ bridge.FileUploader = (*Desk)(nil)
)

// NewDesk returns the adapter over c.
func NewDesk(c *Client, opt DeskOptions) *Desk {
	if opt.PrechatLabel == "" {
		opt.PrechatLabel = "ContactLineId"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Desk{c: c, opt: opt}
}

// deskState is what the core stores for a Live Agent chat.
type deskState struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	Affinity    string `json:"affinity"`
	PollTimeout int64  `json:"poll_timeout_ms"`
	Ack         int64  `json:"ack"`
	Offset      int64  `json:"offset"`
	// Base shifts the server's sequence into a range above every earlier
	// one after a reconnect, so the core's redelivery check never mistakes
	// a restarted sequence for an old batch.
	Base int64 `json:"base"`
}

func (s deskState) session() Session {
	return Session{ID: s.ID, Key: s.Key, AffinityToken: s.Affinity, ClientPollTimeout: time.Duration(s.PollTimeout) * time.Millisecond}
}

func decodeState(raw []byte) (deskState, error) {
	var s deskState
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("liveagent: decode desk state: %w", err)
	}
	return s, nil
}

func (s deskState) encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

// Kind implements bridge.Desk.
func (d *Desk) Kind() string { return "liveagent" }

// Start implements bridge.Desk: SessionId, then ChasitorInit.
func (d *Desk) Start(ctx context.Context, v bridge.Visitor, seq int64) ([]byte, error) {
	s, err := d.c.SessionID(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	details := []PrechatDetail{{
		Label: d.opt.PrechatLabel, Value: string(v.CustomerID), EntityMaps: []any{}, TranscriptFields: []string{}, DisplayToAgent: true,
	}}
	keys := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		details = append(details, PrechatDetail{Label: k, Value: v.Fields[k], EntityMaps: []any{}, TranscriptFields: []string{}, DisplayToAgent: true})
	}
	in := ChasitorInit{VisitorName: v.DisplayName, PrechatDetails: details, PrechatEntities: v.PrechatEntities}
	if err := d.c.ChasitorInit(ctx, s, seq, in); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = d.c.DeleteSession(dctx, s)
		cancel()
		return nil, mapErr(err)
	}
	st := deskState{ID: s.ID, Key: s.Key, Affinity: s.AffinityToken, PollTimeout: s.ClientPollTimeout.Milliseconds(), Ack: -1}
	return st.encode(), nil
}

// Receive implements bridge.Desk: one Messages long poll. A 503 (affinity
// changed) is handled here: ReconnectSession, ChasitorResyncState, and the
// new affinity returned as state, with no events.
func (d *Desk) Receive(ctx context.Context, raw []byte) (bridge.Batch, error) {
	st, err := decodeState(raw)
	if err != nil {
		return bridge.Batch{}, fmt.Errorf("%w: %w", bridge.ErrSessionGone, err)
	}
	m, err := d.c.Messages(ctx, st.session(), st.Ack)
	if errors.Is(err, ErrAffinityChanged) {
		return d.reconnect(ctx, st)
	}
	if err != nil {
		return bridge.Batch{}, mapPollErr(err)
	}
	if m == nil { // 204
		return bridge.Batch{Seq: -1}, nil
	}
	st.Ack = m.Sequence
	if m.Offset != 0 {
		st.Offset = m.Offset
	}
	return bridge.Batch{Events: d.convert(m.Messages), State: st.encode(), Seq: st.Base + m.Sequence}, nil
}

func (d *Desk) reconnect(ctx context.Context, st deskState) (bridge.Batch, error) {
	rc, err := d.c.ReconnectSession(ctx, st.session(), st.Offset)
	if err != nil {
		return bridge.Batch{}, mapPollErr(fmt.Errorf("liveagent: reconnect: %w", err))
	}
	if rc.AffinityToken != "" {
		st.Affinity = rc.AffinityToken
	}
	st.Base += 1 << 32
	if err := d.c.ChasitorResyncState(ctx, st.session()); err != nil {
		d.opt.Logger.WarnContext(ctx, "liveagent: resync state failed", "err", err)
	}
	return bridge.Batch{State: st.encode(), Seq: -1}, nil
}

// Send implements bridge.Desk.
func (d *Desk) Send(ctx context.Context, raw []byte, seq int64, text string) error {
	st, err := decodeState(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	return mapSendErr(d.c.ChatMessage(ctx, st.session(), seq, text))
}

// End implements bridge.Desk: ChatEnd {"reason":"client"}.
func (d *Desk) End(ctx context.Context, raw []byte, seq int64) error {
	st, err := decodeState(raw)
	if err != nil {
		return nil
	}
	err = d.c.ChatEnd(ctx, st.session(), seq, "client")
	if errors.Is(err, ErrSessionInvalid) {
		return nil // already over
	}
	return mapSendErr(err)
}

// Typing implements bridge.Typer.
func (d *Desk) Typing(ctx context.Context, raw []byte, seq int64, typing bool) error {
	st, err := decodeState(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	if typing {
		return mapSendErr(d.c.ChasitorTyping(ctx, st.session(), seq))
	}
	return mapSendErr(d.c.ChasitorNotTyping(ctx, st.session(), seq))
}

// Upload implements bridge.FileUploader.
func (d *Desk) Upload(ctx context.Context, raw []byte, ref bridge.FileRef, name, contentType string, r io.Reader) error {
	st, err := decodeState(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	var ft FileTransfer
	if err := json.Unmarshal(ref.Data, &ft); err != nil {
		return fmt.Errorf("%w: liveagent: decode file request: %w", bridge.ErrPermanent, err)
	}
	return mapSendErr(d.c.UploadFile(ctx, st.session(), ft, name, contentType, r))
}

// convert maps Chat REST messages to bridge events; types the bridge has no
// use for (ChasitorSessionData, CustomEvent, breadcrumbs …) are dropped.
func (d *Desk) convert(msgs []Message) []bridge.Event {
	var out []bridge.Event
	for _, m := range msgs {
		v, err := m.Decode()
		if err != nil {
			d.opt.Logger.Warn("liveagent: undecodable message", "type", m.Type, "err", err)
			continue
		}
		if ev, ok := toEvent(v); ok {
			out = append(out, ev)
		}
	}
	return out
}

func intPtr(n int) *int { return &n }

func toEvent(v any) (bridge.Event, bool) {
	switch m := v.(type) {
	case ChatRequestSuccess:
		ev := bridge.Event{Kind: bridge.KindRequested, Position: intPtr(m.QueuePosition)}
		if m.EstimatedWaitTime >= 0 {
			ev.Wait = intPtr(m.EstimatedWaitTime)
		}
		return ev, true
	case QueueUpdate:
		ev := bridge.Event{Kind: bridge.KindQueueUpdate, Position: intPtr(m.Position)}
		if m.EstimatedWaitTime >= 0 {
			ev.Wait = intPtr(m.EstimatedWaitTime)
		}
		return ev, true
	case ChatRequestFail:
		return bridge.Event{Kind: bridge.KindRequestFailed, Reason: m.Reason}, true
	case ChatEstablished:
		return bridge.Event{Kind: bridge.KindAgentJoined, AgentName: m.Name, AgentID: m.UserID}, true
	case ChatTransferred:
		return bridge.Event{Kind: bridge.KindTransferred, AgentName: m.Name, AgentID: m.UserID}, true
	case ChatMessage:
		return bridge.Event{Kind: bridge.KindAgentMessage, Text: m.Text, AgentName: m.Name, AgentID: m.AgentID}, true
	case AgentTyping:
		return bridge.Event{Kind: bridge.KindAgentTyping, AgentName: m.Name}, true
	case AgentNotTyping:
		return bridge.Event{Kind: bridge.KindAgentNotTyping, AgentName: m.Name}, true
	case AgentDisconnect:
		return bridge.Event{Kind: bridge.KindAgentLeft}, true
	case ChatEnded:
		return bridge.Event{Kind: bridge.KindEnded, EndReason: bridge.EndByAgent, Reason: m.Reason}, true
	case FileTransfer:
		if m.Type == FileTransferRequested {
			data, _ := json.Marshal(m)
			return bridge.Event{Kind: bridge.KindFileRequested, File: &bridge.FileRef{Token: m.FileToken, Data: data}}, true
		}
		return bridge.Event{Kind: bridge.KindFileResult, Reason: m.Type}, true
	}
	return bridge.Event{}, false
}

// mapErr translates client errors for the core: a 403 means the session is
// gone, a 400 cannot be retried; anything else is worth retrying.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSessionInvalid):
		return fmt.Errorf("%w: %w", bridge.ErrSessionGone, err)
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrNotFound), errors.Is(err, ErrMethodNotAllowed):
		return fmt.Errorf("%w: %w", bridge.ErrPermanent, err)
	}
	return err
}

// mapPollErr is mapErr for Messages, where a 409 means Salesforce killed
// the chat (a duplicate long poll).
func mapPollErr(err error) error {
	if errors.Is(err, ErrDuplicatePoll) {
		return fmt.Errorf("%w: %w", bridge.ErrChatTerminated, err)
	}
	return mapErr(err)
}

// mapSendErr is mapErr for visitor POSTs, where a 500 is what Live Agent
// answers before ChatEstablished.
func mapSendErr(err error) error {
	if errors.Is(err, ErrServer) {
		return fmt.Errorf("%w: %w", bridge.ErrNotEstablished, err)
	}
	return mapErr(err)
}
