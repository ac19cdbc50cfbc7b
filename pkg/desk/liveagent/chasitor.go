package liveagent

import (
	"context"
	"fmt"
	"net/http"
)

// Every Chasitor/* POST except ChasitorResyncState carries X-LIVEAGENT-SEQUENCE: the caller's
// counter, 1 for ChasitorInit and one more for every later POST (reset after a
// ReconnectSession). Live Agent uses it to drop duplicates, so a retried POST must reuse its
// sequence number.

// ChasitorInit requests a chat (POST Chasitor/ChasitorInit). Answers arrive through Messages:
// ChatRequestSuccess (queued), then ChatEstablished or ChatRequestFail.
func (c *Client) ChasitorInit(ctx context.Context, s Session, seq int64, in ChasitorInit) error {
	body, err := c.chasitorInitBody(s, in)
	if err != nil {
		return fmt.Errorf("liveagent: chasitor init: %w", err)
	}
	return c.post(ctx, "chasitor init", "Chasitor/ChasitorInit", s, seq, body)
}

// ChatMessage sends the visitor's text. Live Agent answers 500 ([ErrServer]) before
// ChatEstablished.
func (c *Client) ChatMessage(ctx context.Context, s Session, seq int64, text string) error {
	return c.post(ctx, "chat message", "Chasitor/ChatMessage", s, seq, struct {
		Text string `json:"text"`
	}{text})
}

// ChasitorTyping tells the agent the visitor is typing.
func (c *Client) ChasitorTyping(ctx context.Context, s Session, seq int64) error {
	return c.post(ctx, "chasitor typing", "Chasitor/ChasitorTyping", s, seq, struct{}{})
}

// ChasitorNotTyping tells the agent the visitor stopped typing.
func (c *Client) ChasitorNotTyping(ctx context.Context, s Session, seq int64) error {
	return c.post(ctx, "chasitor not typing", "Chasitor/ChasitorNotTyping", s, seq, struct{}{})
}

// ChasitorSneakPeek shows the agent what the visitor is typing (when sneak peek is enabled).
func (c *Client) ChasitorSneakPeek(ctx context.Context, s Session, seq int64, position int, text string) error {
	return c.post(ctx, "chasitor sneak peek", "Chasitor/ChasitorSneakPeek", s, seq, struct {
		Position int    `json:"position"`
		Text     string `json:"text"`
	}{position, text})
}

// CustomEvent sends a custom event to the agent's console.
func (c *Client) CustomEvent(ctx context.Context, s Session, seq int64, typ, data string) error {
	return c.post(ctx, "custom event", "Chasitor/CustomEvent", s, seq, CustomEvent{Type: typ, Data: data})
}

// Chat end reasons sent by [Client.ChatEnd].
const (
	EndReasonClient            = "client"
	EndReasonClientIdleTimeout = "clientIdleTimeout"
)

// ChatEnd ends the chat from the visitor side (POST Chasitor/ChatEnd {"reason":reason}); reason
// defaults to "client". After the agent has ended the chat this answers 403.
func (c *Client) ChatEnd(ctx context.Context, s Session, seq int64, reason string) error {
	if reason == "" {
		reason = EndReasonClient
	}
	return c.post(ctx, "chat end", "Chasitor/ChatEnd", s, seq, struct {
		Reason string `json:"reason"`
	}{reason})
}

// ChasitorResyncState re-synchronizes the chat state after [Client.ReconnectSession]
// (POST Chasitor/ChasitorResyncState {"organizationId":…}; no sequence header).
func (c *Client) ChasitorResyncState(ctx context.Context, s Session) error {
	_, _, err := c.do(ctx, call{
		op: "chasitor resync state", method: http.MethodPost, path: "Chasitor/ChasitorResyncState",
		headers: hdrSession, s: s,
		body: struct {
			OrganizationID string `json:"organizationId"`
		}{c.cfg.OrgID},
	})
	if err != nil {
		return fmt.Errorf("liveagent: chasitor resync state: %w", err)
	}
	return nil
}

func (c *Client) post(ctx context.Context, op, path string, s Session, seq int64, body any) error {
	_, _, err := c.do(ctx, call{op: op, method: http.MethodPost, path: path, headers: hdrSessionSeq, s: s, seq: seq, body: body})
	if err != nil {
		return fmt.Errorf("liveagent: %s: %w", op, err)
	}
	return nil
}
