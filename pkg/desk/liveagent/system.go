package liveagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// SessionID creates a visitor session (GET System/SessionId, affinity "null").
func (c *Client) SessionID(ctx context.Context) (Session, error) {
	_, b, err := c.do(ctx, call{op: "session id", method: http.MethodGet, path: "System/SessionId", headers: hdrVersionNullAff})
	if err != nil {
		return Session{}, fmt.Errorf("liveagent: session id: %w", err)
	}
	var s Session
	if err := s.UnmarshalJSON(b); err != nil {
		return Session{}, fmt.Errorf("liveagent: session id: %w", err)
	}
	if s.Key == "" || s.ID == "" {
		return Session{}, errors.New("liveagent: session id: response has no id or key")
	}
	return s, nil
}

// Messages long-polls System/Messages. ack is the Sequence of the last 200 payload the caller
// has handled (resend the same ack after a 204); a negative ack is sent as "ack=-1", as the
// first poll of a chat must be.
//
// It returns (nil, nil) on 204 (nothing new during the server's hold time): poll again at once.
// The deadline is s.PollTimeout() + [PollMargin], so a hung server never blocks forever; an
// expired deadline gives [ErrTimeout], which is temporary.
//
// Only one poll per session may run at any time: Live Agent answers a second concurrent poll
// with 409 and terminates the chat ([ErrDuplicatePoll]).
func (c *Client) Messages(ctx context.Context, s Session, ack int64) (*Messages, error) {
	if ack < 0 {
		ack = -1
	}
	status, b, err := c.do(ctx, call{
		op: "messages", method: http.MethodGet, path: "System/Messages",
		query:   url.Values{"ack": {strconv.FormatInt(ack, 10)}},
		headers: hdrSession, s: s,
		timeout: s.PollTimeout() + PollMargin,
	})
	if err != nil {
		return nil, fmt.Errorf("liveagent: messages: %w", err)
	}
	if status == http.StatusNoContent || len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	m, err := DecodeMessages(b)
	if err != nil {
		return nil, fmt.Errorf("liveagent: messages: %w", err)
	}
	return m, nil
}

// Reconnect is the result of [Client.ReconnectSession].
type Reconnect struct {
	// AffinityToken is the new affinity; use it from now on (Session.WithAffinity).
	AffinityToken string
	// ResetSequence tells the caller to restart X-LIVEAGENT-SEQUENCE. Salesforce documents it
	// as always true and it may be absent, which counts as true.
	ResetSequence bool
}

// ReconnectSession re-attaches a session after a 503 ([ErrAffinityChanged]): GET
// System/ReconnectSession?ReconnectSession.offset=<offset> with affinity "null". offset is the
// Offset of the last non-empty Messages payload. Afterwards call [Client.ChasitorResyncState]
// and resume polling; the first message is ChasitorSessionData.
func (c *Client) ReconnectSession(ctx context.Context, s Session, offset int64) (Reconnect, error) {
	_, b, err := c.do(ctx, call{
		op: "reconnect session", method: http.MethodGet, path: "System/ReconnectSession",
		query:   url.Values{"ReconnectSession.offset": {strconv.FormatInt(offset, 10)}},
		headers: hdrReconnect, s: s,
	})
	if err != nil {
		return Reconnect{}, fmt.Errorf("liveagent: reconnect session: %w", err)
	}
	m, err := DecodeMessages(b)
	if err != nil {
		return Reconnect{}, fmt.Errorf("liveagent: reconnect session: %w", err)
	}
	for _, msg := range m.Messages {
		if msg.Type != TypeReconnectSession {
			continue
		}
		v, err := msg.Decode()
		if err != nil {
			return Reconnect{}, fmt.Errorf("liveagent: reconnect session: %w", err)
		}
		rs := v.(ReconnectSession)
		if rs.AffinityToken == "" {
			break
		}
		return Reconnect{AffinityToken: rs.AffinityToken, ResetSequence: rs.ResetSequence == nil || *rs.ResetSequence}, nil
	}
	return Reconnect{}, errors.New("liveagent: reconnect session: response has no ReconnectSession affinity token")
}

// DeleteSession ends the session (DELETE System/SessionId/{key}); this ends the chat.
func (c *Client) DeleteSession(ctx context.Context, s Session) error {
	_, _, err := c.do(ctx, call{
		op: "delete session", method: http.MethodDelete, path: "System/SessionId/" + url.PathEscape(s.Key),
		headers: hdrVersionAff, s: s,
	})
	if err != nil {
		return fmt.Errorf("liveagent: delete session: %w", err)
	}
	return nil
}
